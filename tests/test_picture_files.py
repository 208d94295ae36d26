"""Picture files (datasets/picture_files.py): PGMs of every kind read back what was written, text pictures read
as their characters say, and anything else is one PictureError line, never a crash."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnstudio.datasets.picture_files import (MAX_PIXELS, RAMP, PictureError, parse_picture, parse_pgm, parse_text,
                                              read_picture)


def pgm(values: np.ndarray, maxval: int, plain: bool, comment: bytes = b"") -> bytes:
    """A PGM of `values` (integers 0..maxval), plain (P2) or binary (P5), a comment line in the header."""
    height, width = values.shape
    header = (b"P2" if plain else b"P5") + b"\n" + comment + f"{width} {height}\n{maxval}\n".encode()
    if plain:
        return header + "\n".join(" ".join(str(v) for v in row) for row in values).encode() + b"\n"
    return header + values.astype(np.uint8 if maxval < 256 else ">u2").tobytes()


@st.composite
def graymaps(draw):
    maxval = draw(st.one_of(st.just(255), st.just(65535), st.integers(1, 65535)))
    shape = draw(st.tuples(st.integers(1, 12), st.integers(1, 12)))
    values = draw(arrays(np.int64, shape, elements=st.integers(0, maxval)))
    comment = draw(st.sampled_from([b"", b"# made by a test\n", b"#\n# two lines\n"]))
    return values, maxval, comment


@settings(max_examples=200, deadline=None)
@given(graymaps(), st.booleans())
def test_a_written_pgm_reads_back(graymap, plain):
    values, maxval, comment = graymap
    picture = parse_pgm(pgm(values, maxval, plain, comment))
    assert picture.shape == values.shape and picture.dtype == np.float32
    np.testing.assert_allclose(picture, values / maxval, rtol=1e-6)


def test_a_plain_pgm_may_hold_comments_and_any_spacing():
    data = b"P2 # a digit\n3\t2\n# the maximum\n  4\n0 1 2 # first row\n\n3\n4 0\n"
    np.testing.assert_allclose(parse_pgm(data), [[0, 0.25, 0.5], [0.75, 1, 0]])


def test_a_comment_right_after_the_maximum_value_of_a_binary_pgm():
    np.testing.assert_allclose(parse_pgm(b"P5 2 1 255# scanned\n" + bytes([0, 255])), [[0, 1]])


@pytest.mark.parametrize("data, problem", [
    (b"P5\n2 2\n255\n\x00\x01\x02", "truncated PGM: 3 of 4 bytes of pixels"),
    (b"P5\n2 2\n255", "truncated PGM: nothing after the header"),
    (b"P2\n2 2\n255\n0 1 2", "truncated PGM: 3 of 4 pixel values"),
    (b"P2\n2", "truncated PGM header: no height"),
    (b"P2\n2 2", "truncated PGM header: no maximum value"),
    (b"P2\nx 2 255\n", "the width is 'x', not a whole number"),
    (b"P2\n0 2 255\n", "a 0x2 picture has no pixels"),
    (b"P2\n1 1 70000\n0", "the maximum value 70000 is not within 1..65535"),
    (b"P2\n1 1 0\n0", "the maximum value 0 is not within 1..65535"),
    (b"P2\n2 1 9\n3 10\n", "a pixel value 10 is above the maximum value 9"),
    (b"P2\n2 1 9\n3 -1\n", "bad PGM pixel value '-1'"),
    (b"P2 1 1 255 99999999999999999999999", "a pixel value 99999999999999999999 is above the maximum value 255"),
    (b"P2 2 1 255\n000001 99999999999999999999999\n", "a pixel value 99999999999999999999 is above the maximum"),
    ("P5\n100000 100000 255\n".encode(), f"at most {MAX_PIXELS:,} pixels"),
    (b"P6\n1 1 255\n\x00\x00\x00", "a PPM (colour) picture, not a greyscale one"),
    (b"\x89PNG\r\n\x1a\n....", "a PNG picture"),
    (b"\x00\x01\x02garbage", "nor a text picture (it holds binary data)"),
    (b"\xff\xfe\xfa text", "nor a text picture (not UTF-8 text)"),
])
def test_a_bad_picture_is_one_line_naming_the_problem(data, problem):
    with pytest.raises(PictureError) as error:
        parse_picture(data)
    assert problem in str(error.value) and "\n" not in str(error.value)


def test_a_pgm_named_file_must_be_one(tmp_path):
    path = tmp_path / "seven.pgm"
    path.write_text("hello")
    with pytest.raises(PictureError, match=r"seven\.pgm: not a PGM: it does not start with P2 \(plain\) or P5"):
        read_picture(path)


def test_a_missing_file_and_a_folder_are_named(tmp_path):
    with pytest.raises(PictureError, match="nothere.pgm: no such file"):
        read_picture(tmp_path / "nothere.pgm")
    with pytest.raises(PictureError, match="is a folder"):
        read_picture(tmp_path)


# ---------------------------------------------------------------------------------------------- text
def test_a_text_picture_reads_blank_dot_ramp_and_other_characters():
    lines = [""] * 28
    lines[0] = " .:@X"
    lines[27] = "#" * 28
    picture = parse_text("\n".join(lines) + "\n")
    assert picture.shape == (28, 28)
    np.testing.assert_allclose(picture[0, :6], [0, 0, 2 / 9, 1, 1, 0])
    np.testing.assert_allclose(picture[27], RAMP.index("#") / 9)
    assert not picture[1:27].any()
    trailing = parse_text("\n".join(lines) + "\n\n  \r\n")   # blank lines an editor left after it: not rows
    np.testing.assert_array_equal(trailing, picture)


def test_windows_line_ends_and_no_last_newline_are_fine():
    np.testing.assert_array_equal(parse_text("\r\n".join(["@"] * 28)), parse_text("\n".join(["@"] * 28) + "\n"))


@pytest.mark.parametrize("text, problem", [
    ("@\n" * 27, "a text picture has 28 lines (one per pixel row), this one 27"),
    ("@\n" * 29, "this one 29"),
    ("", "this one 0"),
    ("@" * 29 + "\n" + "\n" * 27, "line 1 has 29 characters: a text picture's lines have at most 28"),
])
def test_a_bad_text_picture_says_what_is_wrong(text, problem):
    with pytest.raises(PictureError) as error:
        parse_text(text)
    assert problem in str(error.value)


@settings(max_examples=100, deadline=None)
@given(arrays(np.int64, (28, 28), elements=st.integers(0, len(RAMP) - 1)))
def test_a_ramp_picture_round_trips(levels):
    text = "\n".join("".join(RAMP[v] for v in row).rstrip() for row in levels) + "\n"
    expected = np.where(levels <= 1, 0.0, levels / (len(RAMP) - 1))   # ' ' and '.' are both empty
    np.testing.assert_allclose(parse_text(text), expected, rtol=1e-6)


# ---------------------------------------------------------------------------------------------- garbage
@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=200).map(lambda b: b"P5" + b),
    st.binary(max_size=200).map(lambda b: b"P2" + b),
    st.text(max_size=300).map(lambda t: ("P2 " + t).encode()),
    st.lists(st.integers(0, 10 ** 30), min_size=3, max_size=20).map(lambda n: b"P2 " + " ".join(map(str, n)).encode()),
    st.text(alphabet=" .@#\n\r\t", max_size=1200).map(str.encode),
))
def test_garbage_never_crashes_it_is_a_picture_or_one_line(data):
    try:
        picture = parse_picture(data)
    except PictureError as error:
        assert str(error) and "\n" not in str(error)
        return
    assert picture.ndim == 2 and picture.dtype == np.float32
    assert np.isfinite(picture).all() and 0.0 <= picture.min() and picture.max() <= 1.0
