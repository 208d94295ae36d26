"""How figures are written for people, alike in every command and in the studio."""

from __future__ import annotations


def size_text(size: int) -> str:
    """Bytes for people (SI units, as file managers show them): 830 -> "830 B", 12_345 -> "12.3 kB",
    4_200_000 -> "4.2 MB"."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
