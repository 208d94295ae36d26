"""A small TOML writer: the standard library reads TOML (`tomllib`) but cannot write it.

    dumps({"optimizer": {"name": "adam", "lr": 0.001}})  ->  '[optimizer]\\nname = "adam"\\nlr = 0.001\\n'

Covers what a run config needs, in TOML 1.0 and nothing more: tables, nested tables, arrays of
tables (a model spec's layer list becomes `[[model.spec.layers]]`), strings, integers, floats,
booleans, and arrays (of scalars, arrays or inline tables). Whatever `dumps` writes, `tomllib`
reads back to an equal dict; a value TOML cannot hold (None, a date, an integer beyond 64 bits,
a string that is not valid Unicode) raises TypeError or ValueError instead of being written
in some approximate form.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

Comments = Mapping[tuple[str, ...], str]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_INT_MIN, _INT_MAX = -2 ** 63, 2 ** 63 - 1   # TOML integers are signed 64-bit
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def dumps(data: Mapping[str, Any], *, comments: Comments | None = None, header: str = "") -> str:
    """`data` as a TOML document.

    `comments` maps a key path such as ("optimizer", "lr") to one line of text, written as a
    comment above that key or table header; `header` is written as comment lines at the top.
    Comments are for people: `tomllib` ignores them.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"a TOML document is a table (a dict), got {type(data).__name__}")
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _write_table(lines, (), data, comments or {})
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines) + "\n"


def _is_table_array(value: Any) -> bool:
    """A non-empty list of dicts is written as an array of tables (`[[name]]` blocks)."""
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _write_table(lines: list[str], path: tuple[str, ...], table: Mapping[str, Any], comments: Comments) -> None:
    """Key/value pairs first (after a header they all belong to its table), then sub-tables."""
    for key, value in table.items():
        _check_key(key, path)
        if isinstance(value, Mapping) or _is_table_array(value):
            continue
        note = comments.get(path + (key,))
        if note:
            lines.append(_comment(note))
        lines.append(f"{format_key(key)} = {format_value(value, path + (key,))}")
    for key, value in table.items():
        sub = path + (key,)
        if isinstance(value, Mapping):
            _blank_then_comment(lines, comments.get(sub))
            lines.append(f"[{_dotted(sub)}]")
            _write_table(lines, sub, value, comments)
        elif _is_table_array(value):
            _blank_then_comment(lines, comments.get(sub))
            for position, item in enumerate(value):
                if position:
                    lines.append("")
                lines.append(f"[[{_dotted(sub)}]]")
                _write_table(lines, sub, item, comments)


def _blank_then_comment(lines: list[str], note: str | None) -> None:
    lines.append("")
    if note:
        lines.append(_comment(note))


def _comment(text: str) -> str:
    """One comment line; line breaks and other control characters would end the comment early."""
    return "# " + "".join(" " if (ord(c) < 32 or ord(c) == 127) else c for c in text)


def _check_key(key: Any, path: tuple[str, ...]) -> None:
    if not isinstance(key, str):
        where = _dotted(path) or "the top level"
        raise TypeError(f"TOML keys are strings; {where} has the key {key!r}")


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(format_key(k) for k in path)


def format_key(key: str) -> str:
    """A bare key when TOML allows one (letters, digits, _ and -), else a quoted one."""
    return key if _BARE_KEY.fullmatch(key) else format_string(key)


def format_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped, the rest as is (UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{text!r} is not valid Unicode text (it has a lone surrogate), which TOML cannot hold") from None
    out = []
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 32 or ord(c) == 127:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def format_float(x: float) -> str:
    """Python's repr is the shortest text that reads back as exactly `x`; TOML accepts all of its forms
    (0.001, 1e-08, 1e+16, -0.0) and spells the special values inf, -inf and nan."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float.__repr__(float(x))   # float.__repr__: NumPy 2 scalars would print as np.float64(...)


def format_value(value: Any, path: tuple[str, ...] = ()) -> str:
    """One value in inline form: a scalar, an array, or an inline table `{ a = 1 }`."""
    if isinstance(value, bool):   # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"{_dotted(path) or 'a value'}: {value} does not fit in a TOML integer (64 bits)")
        return str(int(value))
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v, path) for v in value) + "]"
    if isinstance(value, Mapping):
        for key in value:
            _check_key(key, path)
        items = ", ".join(f"{format_key(k)} = {format_value(v, path + (k,))}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    if value is None:
        raise TypeError(f"{_dotted(path) or 'a value'} is None, and TOML has no null: leave the key out instead")
    raise TypeError(f"{_dotted(path) or 'a value'}: TOML cannot hold a {type(value).__name__} ({value!r})")
