"""Where a newcomer starts: a one-screen "what to do" in the Monitor's place until there is a run to watch.

An empty monitor (four empty plot frames and a toast over them) told a newcomer nothing. Until a
run exists the app shows this instead (`StudioApp._show_welcome`): what space will train (the
model in 1 Model, on the data set in 2 Settings), how to pick a preset, where the settings are,
and that ? lists every key. The moment a run starts, or a save is opened, the plots take its place.
When the run trains on the embedded MNIST subset, it says so here, and how to get the full set.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from nnstudio.datasets import EMBEDDED_NAME
from nnstudio.datasets.locations import offline
from nnstudio.engine.presets import PRESETS

from ..run.config import RunConfig
from ..run.fitting import model_name

#: (key, what it does) in the order a newcomer needs them
STEPS = (
    ("space", "train the model shown in 1 Model on the data set in 2 Settings"),
    ("p", "a preset in 1 Model: " + ", ".join(PRESETS)),
    ("2", "the settings: data set, optimizer, learning rate, epochs"),
    ("n", "train one epoch, then pause; space pauses and resumes"),
    ("?", "every key, for the pane in use too;  q  quits"),
)


class Welcome(VerticalScroll, can_focus=False):
    """What to do first, and what the first press of space will train."""

    DEFAULT_CSS = Path(__file__).with_name("welcome.tcss").read_text(encoding="utf-8")

    config: reactive[RunConfig | None] = reactive(None, init=False)
    """The run configuration (set by the app): what space trains."""

    def compose(self) -> ComposeResult:
        yield Static(id="welcome-text")

    def on_mount(self) -> None:
        self.watch_config()

    def watch_config(self) -> None:
        """Called when config is updated: say what will be trained."""
        if found := self.query("#welcome-text"):   # composed (a config may come before)
            found.first(Static).update(self.content())

    def content(self) -> Group:
        """The whole screen (words and key names, no colour needed: it reads the same in 16 colours and NO_COLOR)."""
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        for key, what in STEPS:
            keys.add_row(key, what)
        parts: list = [Text.assemble(("Welcome to nnstudio", "bold"), ": build a model, train it, watch it learn.\n"),
                       Padding(keys, (0, 0, 0, 2))]
        config = self.config
        if config is not None:
            name = model_name(config)
            model = "a custom model" if name == "custom" else f"the {name} preset"
            epochs = config.training.epochs
            parts.append(Text(f"\nNow space trains {model} on {config.data.name}, {config.optimizer.name} "
                              f"lr {config.optimizer.lr:g}, {epochs} epoch{'' if epochs == 1 else 's'}."))
            if config.data.name == EMBEDDED_NAME:
                how = ("copy the four MNIST files here with `nnstudio data import mnist DIR` (offline: "
                       "NNSTUDIO_OFFLINE is set)" if offline() else
                       "choose data.name mnist in 2 Settings (downloaded once) or run `nnstudio data import`")
                parts.append(Text(f"\n{EMBEDDED_NAME} is the 6,000-digit MNIST subset that ships with nnstudio "
                                  f"(it works offline). For all 70,000 digits, {how}.", style="italic"))
        parts.append(Text("\nThe plots appear here once training starts.", style="dim"))
        return Group(*parts)
