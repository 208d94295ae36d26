"""Typed fields: one way to check a value, read it from typed text, and say in words what is allowed.

    out = Field("out", int, "number of output features", low=1)
    out.check(0)          -> FieldError: out must be a whole number >= 1, got 0
    out.parse(" 16 ")     -> 16
    out.constraint        -> "a whole number >= 1"

A model spec's layer fields (`engine.spec`), a run's settings (`nnstudio.tui.run`), the forms
that edit both, and the checks of a save's metadata (`nnstudio.saves`) all describe their values
with `Field`, so they apply the same rules in the same words: a bool is not a number (`true` is
not 1 epoch), "10" in quotes is text, not 10, a float must be finite, an integer far beyond any
sensible size is refused before it reaches arithmetic, and a misspelt choice gets a did-you-mean.
It lives in the engine because the engine is the layer every other one may import.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import reprlib
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

#: the largest integer a field accepts unless it says otherwise: a TOML file holds signed 64-bit integers
LARGEST_INT = 2 ** 63 - 1
#: words a user may type for true and false (in a form or on the command line)
TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
#: typed text that means "no value" for a nullable field
NONE_WORDS = ("", "none", "null")

_KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text", dict: "an object"}


class FieldError(ValueError):
    """A value a field refuses: `problem` says what is allowed and what was given ("must be ..., got ...")."""

    def __init__(self, name: str, problem: str) -> None:
        self.name, self.problem = name, problem
        super().__init__(f"{name} {problem}" if name else problem)


class _Required:
    """Marks a field without a default."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


# ====================================================================== words for messages
def short_repr(value: Any, limit: int = 50) -> str:
    """repr() cut to `limit` characters, cheap for any value and never raising: a container from a hostile
    file is summarised by `reprlib` (however long or deep), and Python refuses to print ints of 4,300+ digits."""
    try:
        text = reprlib.repr(value) if isinstance(value, (list, tuple, dict, set)) else repr(value)
    except (ValueError, RecursionError):
        return "a value too long to print"
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Overflowed(float):
    """A number a file wrote too large for a float (`lr = 1e400`): it reads as infinity, and keeps how it was
    written, so that a message says "1e400 is too large" rather than "got inf" (`too_large`;
    `nnstudio.tui.run.config` reads TOML floats so)."""

    text: str

    def __new__(cls, text: str) -> "Overflowed":
        number = super().__new__(cls, text)
        number.text = text
        return number


def too_large(text: str) -> str:
    """What is wrong with a number written too large for a float: "1e400 is too large (it overflows ...)"."""
    if text.strip().startswith("-"):
        return f"{text.strip()} is too far below 0 (it overflows to -infinity; numbers go down to about -1.8e308)"
    return f"{text.strip()} is too large (it overflows to infinity; the largest number is about 1.8e308)"


def overflows(text: str) -> bool:
    """Whether `text` writes a finite number too large for a float (1e400), which Python reads as infinity."""
    try:
        return math.isinf(float(text)) and "inf" not in text.lower()
    except ValueError:
        return False


def given_text(value: Any) -> str:
    """A value a user gave, for a message, in the words of the file or form it came from: true and false as
    TOML and JSON write them (Python's True is what their `true` reads as), a number too large as written."""
    if isinstance(value, (bool, np.bool_)):
        return f"{'true' if value else 'false'} (a yes/no value)"
    if isinstance(value, Overflowed):
        return value.text
    return short_repr(value)


def is_whole_number(value: Any) -> bool:
    """An integer that is not a bool (Python's bool is an int; `true` is never a count or a size)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def suggest(word: Any, options) -> str:
    """ " (did you mean 'adam'?)" when `word` is close to one of `options`, else ""."""
    if not isinstance(word, str) or len(word) > 40:
        return ""
    close = difflib.get_close_matches(word.lower(), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def number_text(x: float) -> str:
    """A bound or default as people write it: 1 rather than 1.0, 0.001, 1e-08."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(float(x))


def kind_of(value: Any) -> str:
    """What kind of JSON-like value this is, in words: "null", "true/false", "a number", "text", ..."""
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "true/false"
    if isinstance(value, numbers.Number):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def value_and_kind(value: Any) -> str:
    """ "'relu' (text)": a wrong value and what kind of value it is, for a message."""
    return f"{short_repr(value)} ({kind_of(value)})"


# ====================================================================== the field
@dataclass(frozen=True)
class Field:
    """One typed value: its kind, default, allowed values and meaning.

    Ranges: `low`/`high` are the ends, `low_open`/`high_open` say whether the end itself is
    excluded. `special` is one extra value outside the range with a meaning of its own
    (0 = "the data set's default"). `largest` bounds an integer's size where no `high` does
    (refused as "far too large", not listed in the constraint). `words` names what a dict
    holds ("a model spec"), and `validate` checks and normalises it further (its ValueError
    becomes the field's problem).
    """

    name: str
    kind: type                      # bool, int, float, str or dict
    description: str = ""
    default: Any = REQUIRED
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    special: tuple[Any, str] | None = None   # (value, what it means)
    nullable: bool = False          # None is allowed (and means something, see the description)
    nonempty: bool = False          # for text: "" is not allowed
    largest: int = LARGEST_INT
    example: Any = None             # a sensible value to pre-fill a form with, for a required field
    words: str | None = None        # what the value is, where the kind's own word says too little
    validate: Callable[[Any], Any] | None = None

    #: how "no value" is called where these fields are written (JSON's null; a TOML file has none)
    NULL_WORD: ClassVar[str] = "null"

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def constraint(self) -> str:
        """The allowed values in words: "a number >= 0 and < 1", "one of sgd, rmsprop, adam, adamw"."""
        text = self.ordinary_values
        if self.special is not None:
            text = f"{number_text(self.special[0])} ({self.special[1]}) or {text}"
        if self.nullable:
            text += f" or {self.NULL_WORD}"
        return text

    @property
    def ordinary_values(self) -> str:
        """The allowed values in words, leaving out the special value and null (see `constraint`)."""
        if self.choices is not None:
            text = "one of " + ", ".join(self.choices)
        elif self.words is not None:
            text = self.words
        elif self.kind is str and self.nonempty:
            text = "non-empty text"
        else:
            text = _KIND_WORDS[self.kind]
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {number_text(self.low)}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {number_text(self.high)}")
            text += (" " + " and ".join(bounds)) if bounds else ""
        return text

    def default_text(self) -> str:
        """The default as a user would write it: true, 'adam', 0.001, none."""
        return self.value_text(self.default)

    @staticmethod
    def value_text(value: Any) -> str:
        """A value of a field as a user would write it: true, 'adam', 0.001, none."""
        if value is None or value is REQUIRED:
            return "none"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return repr(value)
        return number_text(value) if isinstance(value, (int, float)) else repr(value)

    def describe(self) -> str:
        """One line of help: what it is, what is allowed, the default."""
        parts = [self.constraint] + ([] if self.required else [f"default {self.default_text()}"])
        return f"{self.description}. Allowed: {'; '.join(parts)}"

    # ------------------------------------------------------------------ checking
    def check(self, value: Any, *, typed: str | None = None) -> Any:
        """`value` normalised to a plain Python value of this field's kind, or a FieldError.

        Messages show what the user gave: the `typed` text if the value was parsed from it,
        else the value before conversion (-3, not -3.0).
        """
        if value is None and self.nullable:
            return None
        given, value = (value if typed is None else typed), self._coerce(value)
        if self.special is not None and value == self.special[0]:
            return value
        if self.validate is not None:
            try:
                return self.validate(value)
            except ValueError as error:   # keep the validator's own words (and error: it names the part that is wrong)
                raise self.error(str(error)) from error
            except RecursionError:
                raise self.error(f"is nested far too deeply to be {self.constraint}") from None
        if self.choices is not None and value not in self.choices:
            raise self._wrong(given, suggest(value, self.choices))
        if self.kind is str and self.nonempty and not value.strip():
            raise self._wrong(given)
        if self.kind in (int, float):
            too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
            too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
            if too_low or too_high:
                raise self._wrong(given)
        return value

    def error(self, problem: str) -> FieldError:
        return FieldError(self.name, problem)

    def _wrong(self, value: Any, hint: str = "") -> FieldError:
        return self.error(f"must be {self.constraint}, got {given_text(value)}{hint}")

    def _coerce(self, value: Any) -> Any:
        """The value as this field's Python type, refusing look-alikes (True is not 1, "10" is not 10)."""
        is_bool = isinstance(value, (bool, np.bool_))
        if self.kind is bool:
            if is_bool:
                return bool(value)
            raise self._wrong(value)
        if is_bool:   # bool is an int subclass in Python; `epochs = true` is a mistake, not 1 epoch
            raise self._wrong(value)
        if isinstance(value, Overflowed) and self.kind in (int, float):
            raise self.error(too_large(value.text))
        if self.kind is int:
            if not isinstance(value, numbers.Integral):
                raise self._wrong(value, self._quoted_hint(value))
            if abs(value) > self.largest:   # also keeps later arithmetic and messages on ordinary numbers
                raise self.error(f"is far too large: {short_repr(value)}")
            return int(value)
        if self.kind is float:
            if not isinstance(value, numbers.Real):
                raise self._wrong(value, self._quoted_hint(value))
            try:
                number = float(value)
            except OverflowError:
                raise self.error(f"is far too large: {short_repr(value)}") from None
            if not math.isfinite(number):
                raise self._wrong(value, " (it must be a finite number)")
            return number + 0.0   # (-0.0 is 0: "lr -0" reads as a negative rate)
        if self.kind is str:
            if not isinstance(value, str):
                raise self._wrong(value)
            if "\x00" in value:
                raise self.error(f"must not contain NUL characters, got {short_repr(value)}")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise self.error(f"must be valid Unicode text, got {short_repr(value)}") from None
            return value
        if not isinstance(value, dict):
            raise self._wrong(value)
        return value

    def _quoted_hint(self, value: Any) -> str:
        """'"10" (text)' in a file is a common slip: say how to write the number."""
        if isinstance(value, str):
            try:
                self._coerce(int(value) if self.kind is int else float(value))
                return f" (text; write it without quotes: {self.name} = {value.strip()})"
            except (ValueError, FieldError):
                pass
        return ""

    # ------------------------------------------------------------------ typed text
    def parse(self, text: str) -> Any:
        """What a user typed (a form field, a command-line argument) as a checked value, or a FieldError."""
        if not isinstance(text, str):
            raise self.error(f"expected typed text, got {short_repr(text)}")
        stripped = text.strip()
        if self.nullable and stripped.lower() in NONE_WORDS:
            return None
        if self.kind is bool:
            lowered = stripped.lower()
            if lowered not in TRUE_WORDS + FALSE_WORDS:
                raise self.error(f"must be true or false (or yes/no), got {short_repr(text)}")
            return lowered in TRUE_WORDS
        if self.kind in (int, float):
            if not stripped.isascii():   # Python reads "١" and "１" as 1; a typo or a paste, never meant as digits
                raise self._wrong(text, " (write numbers with the digits 0-9)")
            try:
                value: Any = self.kind(stripped)
            except ValueError:
                raise self._wrong(text) from None
            if value == 0 and self.kind is float and any(digit in "123456789" for digit in stripped.lower().split("e")[0]):
                raise self.error(f"{text.strip()} is too small to tell from 0 (the smallest number is about 1e-308)")
            if self.kind is float and overflows(stripped):
                raise self.error(too_large(stripped))
        elif self.kind is dict:
            try:
                value = json.loads(stripped)
            except (ValueError, RecursionError) as error:
                raise self.error(f"must be {self.words or 'an object'} written as JSON: {error}") from None
        else:
            value = stripped
            if self.choices is not None and value not in self.choices and value.lower() in self.choices:
                value = value.lower()   # "Adam" typed in a form means adam
        return self.check(value, typed=text)
