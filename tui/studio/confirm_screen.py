"""A yes/no question in a modal dialog: `y` or `n` on the keyboard, or the buttons with the mouse.

Used wherever trained work could be lost (quit, re-initialise, load over unsaved weights, a
change of model or settings that starts the run afresh) and to offer resuming an interrupted
run. It returns a bool through `dismiss`, so callers push it with a callback:
`app.push_screen(ConfirmScreen("Quit?"), on_answer)`.

The button that has the focus at first is `default`'s, "no" unless the caller says otherwise:
an enter meant for what came before (the layer form's, a second one) must never throw trained
work away.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask one question; dismiss with True (yes) or False (no, escape)."""

    DEFAULT_CSS = Path(__file__).with_name("confirm_screen.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Question"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, *, detail: str = "", yes: str = "Yes", no: str = "No",
                 default: bool = False) -> None:
        super().__init__()
        self.question, self.detail, self.yes, self.no = question, detail, yes, no
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            # plain text: questions quote file and run names, which may hold "[" (never read as markup)
            yield Static(self.question, id="confirm-question", markup=False)
            if self.detail:
                yield Static(self.detail, id="confirm-detail", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", variant="primary", id="confirm-yes")
                yield Button(f"{self.no} (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-yes" if self.default else "#confirm-no", Button).focus()
        self.app.clear_notifications()   # a long toast (a divergence's) was drawn over the question's buttons

    def action_answer(self, answer: bool) -> None:
        """Close the dialog with the answer."""
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")
