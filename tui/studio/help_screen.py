"""The `?` screen: every key binding of the studio and of the pane in use, read from the bindings themselves.

Nothing here is a hand-kept list: the rows come from the BINDINGS of the app and of the
focused pane (and whatever is focused inside it), so a binding added anywhere shows up here
(and in the footer, and in the command palette) without anyone remembering to document it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Static

#: (section, keys as displayed, description)
HelpRow = tuple[str, str, str]


def binding_rows(nodes: Iterable[DOMNode], key_display: Callable[[Binding], str]) -> list[HelpRow]:
    """One row per action of each node's bindings (several keys for one action share a row).

    A node's section title is its HELP_TITLE (or its class name). Textual's own system
    bindings (no description) are left out; hidden ones (`show=False`) are listed too.
    """
    rows: list[HelpRow] = []
    for node in nodes:
        section = getattr(node, "HELP_TITLE", type(node).__name__)
        merged: dict[tuple[str, str], list[str]] = {}
        # DOMNode._bindings is where Textual keeps a node's bindings with the keymap applied
        for _key, binding in node._bindings:
            if binding.system or not binding.description:
                continue
            keys = merged.setdefault((binding.action, binding.tooltip or binding.description), [])
            shown = key_display(binding)
            if shown not in keys:
                keys.append(shown)
        rows += [(section, " / ".join(keys), description) for (_action, description), keys in merged.items()]
    return rows


class HelpScreen(ModalScreen[None]):
    """A scrollable table of key bindings; escape, q or ? closes it."""

    DEFAULT_CSS = Path(__file__).with_name("help_screen.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Help"
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", key_display="esc", id="help.close")]

    def __init__(self, rows: list[HelpRow]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(self._table(), id="help-table")
            yield Static(Text("Everything works with the mouse too: click a tab, a button or a field. "
                              "ctrl+p opens the command palette.", style="dim"), id="help-footnote")

    def _table(self) -> Table:
        table = Table(title="nnstudio keys", title_justify="left", expand=True, show_edge=False, pad_edge=False)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("does")
        section = None
        for where, keys, description in self.rows:
            if where != section:
                section = where
                table.add_row(Text(where, style="bold underline"), "")
            table.add_row(keys, description)
        return table
