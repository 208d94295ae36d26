"""The studio's command palette (ctrl+p): the main actions of the app and of the pane in use.

Like the help screen, it is read from the bindings (every binding with an id is an action
worth offering), so the palette, the footer and `?` cannot disagree. A binding's tooltip is
the command's help line; actions that do not apply right now (`check_action`) are left out.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode


def palette_entries(app, pane: DOMNode | None) -> Iterator[tuple[str, str, DOMNode, Binding]]:
    """(name, help, namespace, binding) for each bound action of the app and the current pane."""
    seen: set[tuple[int, str]] = set()
    for node in (app, pane):
        if node is None:
            continue
        for _key, binding in node._bindings:  # Textual's per-node bindings, keymap applied
            if binding.id is None or (id(node), binding.action) in seen:
                continue
            seen.add((id(node), binding.action))
            action_name, *_ = binding.action.partition("(")
            if node.check_action(action_name, ()) is not True:
                continue
            key = app.get_key_display(binding)
            yield f"{binding.description} ({key})", binding.tooltip or binding.description, node, binding


class StudioCommands(Provider):
    """Start/pause, step, stop, save, load, re-initialise, switch pane, help: whatever is bound."""

    def _entries(self):
        app = self.app
        pane = getattr(app, "current_pane", None)
        for name, help_text, node, binding in palette_entries(app, pane):
            yield name, help_text, partial(app.run_action, binding.action, node)

    async def discover(self) -> Hits:
        for name, help_text, command in self._entries():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, command in self._entries():
            score = max(matcher.match(name), matcher.match(help_text))
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, help=help_text)
