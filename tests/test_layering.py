"""The layers point one way (DESIGN.md): checked on the source, import by import, and on a live import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: folder -> the package it installs as (pyproject's package-dir)
PACKAGES = {"engine": "nnstudio.engine", "datasets": "nnstudio.datasets", "saves": "nnstudio.saves",
            "tui": "nnstudio.tui"}
#: module prefix -> what it must never import
FORBIDDEN = {
    "nnstudio.engine": ("nnstudio.datasets", "nnstudio.saves", "nnstudio.tui", "textual", "rich"),
    "nnstudio.datasets": ("nnstudio.engine", "nnstudio.saves", "nnstudio.tui", "textual", "rich"),
    "nnstudio.saves": ("nnstudio.datasets", "nnstudio.tui", "textual", "rich"),
    "nnstudio.tui.run": ("nnstudio.tui.cli", "nnstudio.tui.studio", "nnstudio.tui.main", "nnstudio.tui.render",
                         "textual", "rich", "textual_plotext"),
    "nnstudio.tui.cli": ("nnstudio.tui.studio", "nnstudio.tui.main", "textual", "textual_plotext"),
    "nnstudio.tui.studio": ("nnstudio.tui.cli", "nnstudio.tui.main"),
    "nnstudio.tui.render": ("nnstudio.tui.cli", "nnstudio.tui.studio", "nnstudio.tui.main", "textual"),
}


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = [PACKAGES[relative.parts[0]], *relative.parts[1:]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved to absolute names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def source_files():
    for folder in PACKAGES:
        yield from sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", list(source_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_one_way(path):
    name = module_name(path)
    rules = [banned for prefix, banned in FORBIDDEN.items() if name == prefix or name.startswith(prefix + ".")]
    wrong = sorted(module for module in imports_of(path) for banned in rules for b in banned
                   if module == b or module.startswith(b + "."))
    assert not wrong, f"{name} imports {', '.join(wrong)}"


def test_the_checker_resolves_relative_imports():
    """A guard for the test itself: `from ..run import Session` in the studio is nnstudio.tui.run."""
    found = imports_of(ROOT / "tui" / "studio" / "runner.py")
    assert "nnstudio.tui.run.Session" in found and "textual.worker" in found


def test_the_run_core_imports_without_textual_or_rich():
    """A library user imports the session without paying for (or needing) the interfaces."""
    code = ("import sys; from nnstudio.tui.run import RunConfig, Session; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'textual_plotext')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
