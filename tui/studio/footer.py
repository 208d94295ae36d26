"""The studio's footer: Textual's own, rebuilt once per burst of binding changes.

Switching panes moves the focus and changes the active bindings several times in a row, and
Textual's Footer rebuilds all its keys for every one of those changes (each rebuild mounts and
restyles a dozen widgets). Measured here, that was most of the cost of a pane switch: a few
hundred milliseconds of the interface thread, which training shares. This footer folds the
changes that arrive before its pending rebuild into that one rebuild.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class StudioFooter(Footer):
    """A Footer that rebuilds its keys at most once per screen refresh."""

    _rebuild_pending = False

    def bindings_changed(self, screen: Screen) -> None:
        """Called for every change of the screen's bindings: schedule one rebuild for all of them."""
        if not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild, screen)

    def _rebuild(self, screen: Screen) -> None:
        self._rebuild_pending = False
        super().bindings_changed(screen)
