"""The one field type that layer fields, run settings, forms and the save schema share."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnstudio.engine.fields import (Field, FieldError, Overflowed, is_whole_number, kind_of, overflows, short_repr,
                                     suggest)

SIZE = Field("out", int, "outputs", low=1)
RATE = Field("p", float, "a probability", low=0.0, high=1.0, high_open=True)
CHOICE = Field("name", str, "an optimizer", choices=("sgd", "adam"))
FLAG = Field("bias", bool, "learn an offset", default=True)
STRIDE = Field("stride", int, "a stride", default=None, low=1, nullable=True)


@pytest.mark.parametrize("field, value, problem", [
    (SIZE, 0, "must be a whole number >= 1, got 0"),
    (SIZE, True, "must be a whole number >= 1, got true (a yes/no value)"),   # a bool is not a number
    (SIZE, 2.0, "must be a whole number >= 1, got 2.0"),
    (SIZE, "3", "must be a whole number >= 1, got '3' (text; write it without quotes: out = 3)"),
    (SIZE, 10 ** 30, "is far too large: 1000000000000000000000000000000"),
    (RATE, 1.0, "must be a number >= 0 and < 1, got 1.0"),
    (RATE, math.nan, "must be a number >= 0 and < 1, got nan (it must be a finite number)"),
    (RATE, 10 ** 400, "is far too large"),
    (CHOICE, "adm", "must be one of sgd, adam, got 'adm' (did you mean 'adam'?)"),
    (CHOICE, "a\x00b", "must not contain NUL characters"),
    (FLAG, 1, "must be true or false, got 1"),                        # and a number is not a bool
    (STRIDE, 0, "must be a whole number >= 1 or null, got 0"),
])
def test_a_refused_value_says_what_is_allowed_and_what_was_given(field, value, problem):
    with pytest.raises(FieldError) as caught:
        field.check(value)
    assert problem in caught.value.problem and str(caught.value).startswith(f"{field.name} ")


def test_values_are_normalised_to_plain_python():
    assert type(SIZE.check(np.int64(3))) is int and type(RATE.check(np.float32(0.5))) is float
    assert RATE.check(0) == 0.0 and type(RATE.check(0)) is float and FLAG.check(np.bool_(False)) is False
    assert STRIDE.check(None) is None


@pytest.mark.parametrize("field, text, value", [
    (SIZE, " 16 ", 16), (RATE, "0.25", 0.25), (CHOICE, "Adam", "adam"), (FLAG, "no", False), (FLAG, "ON", True),
    (STRIDE, "", None), (STRIDE, "none", None), (STRIDE, "2", 2),
])
def test_typed_text_is_parsed_once_into_a_checked_value(field, text, value):
    assert field.parse(text) == value


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10 ** 12) | st.floats(0, 1, exclude_max=True, allow_nan=False))
def test_what_a_field_accepts_reads_back_from_its_text(value):
    field = SIZE if isinstance(value, int) else RATE
    assert field.parse(str(value)) == value


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_junk_text_only_ever_raises_field_error(text):
    for field in (SIZE, RATE, CHOICE, FLAG, STRIDE):
        try:
            field.parse(text)
        except FieldError:
            pass


def test_words_for_messages_are_cheap_and_never_raise():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert len(short_repr(deep)) <= 50 and len(short_repr(list(range(10 ** 6)))) <= 50
    assert short_repr(10 ** 5000) == "a value too long to print"
    assert suggest("Adm", ["sgd", "adam"]) == " (did you mean 'adam'?)" and suggest(3, ["adam"]) == ""
    assert [kind_of(v) for v in (None, True, 3, "x", [1], {})] == ["null", "true/false", "a number", "text", "a list",
                                                                    "an object"]
    assert is_whole_number(3) and not is_whole_number(True) and not is_whole_number(3.0)


def test_describe_and_constraint_are_what_forms_and_help_show():
    assert SIZE.constraint == "a whole number >= 1" and RATE.constraint == "a number >= 0 and < 1"
    assert FLAG.describe() == "learn an offset. Allowed: true or false; default true"
    assert Field("n", int, "n", default=0, low=2, special=(0, "the default")).constraint == \
        "0 (the default) or a whole number >= 2"


@pytest.mark.parametrize("typed", ["٠.٠١", "１", "1e−3", "0.0１"])
def test_numbers_are_written_with_ascii_digits_only(typed):
    for kind in (int, float):
        with pytest.raises(FieldError, match="write numbers with the digits 0-9"):
            Field("x", kind, 1, "a number").parse(typed)


def test_numbers_too_small_to_tell_from_zero_and_minus_zero():
    """`--lr 1e-400` trained frozen weights (it reads as 0); `--lr -0` was shown as "lr -0"."""
    lr = Field("lr", float, 0.01, "learning rate", low=0.0)
    with pytest.raises(FieldError, match="1e-400 is too small to tell from 0"):
        lr.parse("1e-400")
    with pytest.raises(FieldError, match="1E-400 is too small to tell from 0"):
        lr.parse(" 1E-400 ")
    assert lr.parse("0E5") == 0.0 and lr.parse("0.000") == 0.0
    assert str(lr.parse("-0")) == "0.0" and str(lr.check(-0.0)) == "0.0"


def test_numbers_too_large_for_a_float_are_told_as_written():
    """`--lr 1e400` was "got inf": Python reads it as infinity; the user wrote a (too) large number."""
    lr = Field("lr", float, 0.01, "learning rate", low=0.0)
    with pytest.raises(FieldError, match=r"^lr 1e400 is too large \(it overflows to infinity; the largest number is"):
        lr.parse(" 1e400 ")
    with pytest.raises(FieldError, match=r"^lr -1E400 is too far below 0 \(it overflows to -infinity"):
        lr.parse("-1E400")
    with pytest.raises(FieldError, match=r"got inf \(it must be a finite number\)"):   # infinity, as written
        lr.parse("inf")
    with pytest.raises(FieldError, match=r"^lr 1e400 is too large"):                     # a file's (`Overflowed`)
        lr.check(Overflowed("1e400"))
    with pytest.raises(FieldError, match=r"^epochs 1e400 is too large"):
        Field("epochs", int, 1, "epochs", low=1).check(Overflowed("1e400"))
    assert overflows("1e400") and overflows("-1_0e999") and not overflows("inf") and not overflows("1e308")
