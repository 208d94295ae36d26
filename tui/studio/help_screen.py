"""The `?` screen: the studio's keys, grouped, with what each does, read from the bindings themselves.

Nothing here is a hand-kept list: the rows come from the BINDINGS of the app, of the pane in
use and of what is focused inside it, so a binding added anywhere shows up here (and in the
footer, and in the command palette) without anyone remembering to document it. Only the
studio's own bindings are listed, those with an id (as the palette offers them): Textual's
widgets bring generic keys of their own (a table's ctrl+pgup "Page Left") that say nothing
about the studio. A node groups its keys by the first word of their ids (`HELP_GROUPS`), and
keys that share a `Binding.Group` (the pane keys 1-5) are one row.
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
    """One row per action of each node's own bindings (several keys for one action share a row, and so do the
    actions of one `Binding.Group`), in sections: the node's HELP_GROUPS by id prefix, else its HELP_TITLE."""
    rows: list[HelpRow] = []
    for node in nodes:
        title = getattr(node, "HELP_TITLE", type(node).__name__)
        groups: dict[str, str] = getattr(node, "HELP_GROUPS", {})
        merged: dict[tuple, tuple[str, list[str], list[Binding]]] = {}
        # DOMNode._bindings is where Textual keeps a node's bindings with the keymap applied, in the order of
        # the keys it inherited first (a key that replaces one of Textual's own, ctrl+c, would come first)
        declared = {b.id: i for i, b in enumerate(getattr(type(node), "BINDINGS", [])) if isinstance(b, Binding)}
        for _key, binding in sorted(node._bindings, key=lambda kb: declared.get(kb[1].id, len(declared))):
            if binding.id is None or binding.system or not binding.description:
                continue
            section = groups.get(binding.id.partition(".")[0], title)
            what = ("group", binding.group.description) if binding.group is not None else ("action", binding.action)
            entry = merged.setdefault((section, *what), (section, [], []))
            shown = key_display(binding)
            if shown not in entry[1]:
                entry[1].append(shown)
            if binding not in entry[2]:
                entry[2].append(binding)
        order = list(dict.fromkeys(section for section, _, _ in merged.values()))
        for section in order:
            rows += [(section, _keys(keys), _description(bindings)) for (where, *_), (_s, keys, bindings)
                     in merged.items() if where == section]
    return rows


def _keys(keys: list[str]) -> str:
    """The keys of a row: "1-5" for a run of digits, else "a / b"."""
    if len(keys) > 2 and all(k.isdigit() and len(k) == 1 for k in keys) and \
            [int(k) for k in keys] == list(range(int(keys[0]), int(keys[-1]) + 1)):
        return f"{keys[0]}-{keys[-1]}"
    return " / ".join(keys)


def _description(bindings: list[Binding]) -> str:
    """What a row's keys do: the tooltip of one action, or for a group what each of its keys does ("1 Model, ...")."""
    first = bindings[0]
    if first.group is not None and len({b.action for b in bindings}) > 1:
        return ", ".join(f"{b.key.split(',')[0]} {b.description}" for b in bindings)
    return first.tooltip or first.description


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
        table = Table(title="nnstudio keys · esc, q or ? closes this", title_justify="left", expand=True, show_edge=False, pad_edge=False)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("does")
        section = None
        for where, keys, description in self.rows:
            if where != section:
                section = where
                table.add_row(Text(where, style="bold underline"), "")
            table.add_row(keys, description)
        return table
