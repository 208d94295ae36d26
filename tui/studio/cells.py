"""Text the panes put in tables and fields: plain (never read as markup) and written one way."""

from __future__ import annotations

from typing import Any

from rich.text import Text


def cell(text: str, style: str = "", *, right: bool = False) -> Text:
    """A table cell: plain text (a name or an error is never read as markup), on one line,
    right-aligned for numbers."""
    return Text(text, style=style, justify="right" if right else "left", no_wrap=True, end="")


def value_text(value: Any) -> str:
    """A value as it is typed into a field: 0.001 -> "0.001", 1e-08 -> "1e-08", True -> "true",
    None -> "" (the field shows its placeholder)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
