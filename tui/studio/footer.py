"""The studio's footer: the keys that matter most, always space, `?` and `q`, rebuilt once per burst of changes.

Textual's Footer shows every shown binding, the focused pane's first, and cuts the line at the
screen's edge: at 80 columns the model pane's seven keys pushed space, `?` and `q` off it. This
footer chooses what fits instead. The pane keys 1-5 are one item ("1-5 Panes"); space, `?` and
`q` always stay; then, while there is room, in this order: the panes item, the keys of the pane
in use (or of what is focused in it), the app's other keys, the pane's secondary keys, and last
the keys that cannot act now (greyed). When not everything fits, the keys are drawn compact
(one space less around each) before any is dropped. Shown keys keep Textual's order.

Switching panes moves the focus and changes the active bindings several times in a row, and
Textual's Footer rebuilds all its keys for every one of those changes (each rebuild mounts and
restyles a dozen widgets). Measured here, that was most of the cost of a pane switch: a few
hundred milliseconds of the interface thread, which training shares. This footer folds the
changes that arrive before its pending rebuild into that one rebuild, and skips a rebuild that
would show the very keys it shows (a focus move notifies twice, a refresh apart; the app asks
for the keys to be looked at again after every command and status change).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: binding ids the footer always shows: start or pause, the list of keys, quit
ESSENTIAL = ("run.toggle", "app.help", "app.quit")
#: binding ids a pane can do without first when the footer is short of room (shown together or not at all)
SECONDARY = ("builder.move-up", "builder.move-down")
#: the rank of those: after the app's keys, before the keys that cannot act now
SECONDARY_RANK = 4


class StudioFooterKey(FooterKey):
    """A footer key; a click on one that cannot act now presses it anyway, so the app says why (Textual's rings
    the bell and says nothing)."""

    def on_mouse_down(self, event: events.MouseDown) -> None:
        event.prevent_default()   # not FooterKey's handler as well
        self.app.simulate_key(self.key)


@dataclass
class FooterItem:
    """One key the footer may show, and how much it wants to be shown (lower `rank` first)."""

    key: str
    key_display: str
    description: str
    action: str
    enabled: bool
    tooltip: str
    rank: int
    order: int

    def width(self, compact: bool) -> int:
        """Cells taken, as FooterKey's styles pad it (compact: no padding, one cell of margin after)."""
        key = cell_len(self.key_display)
        if not self.description:   # drawn as the key alone
            return key + (1 if compact else 0)
        text = key + 1 + cell_len(self.description)
        return text + 1 if compact else text + 2


def choose(items: list[FooterItem], width: int) -> tuple[list[FooterItem], bool]:
    """The items to show in `width` cells, in their order, and whether to draw them compact."""
    compact = sum(item.width(False) for item in items) > width
    chosen, used = set(), 0
    secondary = [item for item in items if item.rank == SECONDARY_RANK]   # together or not at all (up and down)
    for item in sorted(items, key=lambda item: (item.rank, item.order)):
        batch = secondary if item.rank == SECONDARY_RANK else [item]
        if item.order in chosen or (item.rank == SECONDARY_RANK and item is not secondary[0]):
            continue
        cost = sum(member.width(compact) for member in batch)
        if item.rank == 0 or used + cost <= width:
            chosen.update(member.order for member in batch)
            used += cost
    return [item for item in items if item.order in chosen], compact


class StudioFooter(Footer):
    """A Footer that shows what fits by priority, and rebuilds its keys at most once per screen refresh."""

    _rebuild_pending = False
    _built_width = 0
    _shown: tuple | None = None  # what the keys were last built from (see _what_to_show)

    def items(self) -> list[FooterItem]:
        """The keys the screen's active bindings would show, ranked; the pane keys folded into one."""
        items: list[FooterItem] = []
        groups: dict[Binding.Group, list[Binding]] = {}
        seen: set[tuple[int, str]] = set()
        for node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if not binding.show or (id(node), binding.action) in seen:   # one item per action ("d,delete")
                continue
            seen.add((id(node), binding.action))
            if binding.group is not None and node is self.app:
                if binding.group not in groups:
                    groups[binding.group] = []
                    items.append(FooterItem(binding.key, "", binding.group.description, binding.action, True,
                                            "", 1, len(items)))
                groups[binding.group].append(binding)
                continue
            rank = (0 if binding.id in ESSENTIAL else 5 if not enabled else SECONDARY_RANK if binding.id in SECONDARY
                    else 3 if node is self.app else 2)
            items.append(FooterItem(binding.key, self.app.get_key_display(binding), binding.description,
                                    binding.action, enabled, tooltip or binding.tooltip, rank, len(items)))
        for item in items:
            members = next((g for g in groups.values() if g[0].action == item.action), None)
            if members is not None:
                shown = [self.app.get_key_display(b) for b in members]
                item.key_display = f"{shown[0]}-{shown[-1]}" if len(shown) > 2 else "".join(shown)
                item.tooltip = ", ".join(f"{self.app.get_key_display(b)} {b.description}" for b in members)
        return items

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.size.width or self.app.size.width
        self._built_width = width
        shown, compact = choose(self.items(), width)
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        for item in shown:
            yield StudioFooterKey(item.key, item.key_display, item.description, item.action,
                                  disabled=not item.enabled, tooltip=item.tooltip).data_bind(compact=Footer.compact)

    def on_resize(self, event: events.Resize) -> None:
        """Another width fits other keys."""
        if event.size.width != self._built_width and self._bindings_ready:
            self.bindings_changed(self.screen)

    def bindings_changed(self, screen: Screen) -> None:
        """Called for every change of the screen's bindings: schedule one rebuild for all of them."""
        if not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild, screen)

    def _rebuild(self, screen: Screen) -> None:
        self._rebuild_pending = False
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        """Rebuild the keys, unless they would be the very ones shown now."""
        wanted = self._what_to_show()
        if wanted is not None and wanted == self._shown:
            return
        self._shown = wanted
        await super().recompose()

    def _what_to_show(self) -> tuple | None:
        """Everything `compose` builds the keys from (None before the bindings are ready: always rebuild)."""
        if not self._bindings_ready or not self.is_attached:
            return None
        width = self.size.width or self.app.size.width
        shown, compact = choose(self.items(), width)
        return width, compact, tuple((item.key, item.key_display, item.description, item.action, item.enabled,
                                      item.tooltip) for item in shown)
