"""What the Inside and Draw panes look at: the studio's session, or, before it trains, the model it would train.

Called in the panes' worker threads (one source for both: the untrained session is prepared once). A
running session's model is copied between two batches (`Session.model_copy`). With no session yet
(nothing trained, or just re-initialised), a session is prepared from the studio's configuration but
never run: the same data, and the same initial weights that pressing space would start from (the seed
makes them), so the views, the gradient check and the Draw pane's reading work before the first epoch.
It is kept while the configuration stays the same.
"""

from __future__ import annotations

import threading
from typing import Callable

from nnstudio.engine.nn import Module

from ..run import Session
from ..run.config import RunConfig
from ..run.inside import NotApplicable, Subject


class InsideSource:
    """A callable giving the Inside pane its Subject; `model` gives the Draw pane its model."""

    def __init__(self, session: Callable[[], Session | None], config: Callable[[], RunConfig], dataset=None) -> None:
        self.session, self.config, self.dataset = session, config, dataset
        self._preview: tuple[RunConfig, Session] | None = None
        self._preparing = threading.Lock()   # two panes' threads ask at once: one preparation

    def __call__(self) -> Subject:
        session, model, untrained = self.model()
        return Subject.of_session(session, model, history=[] if untrained else list(session.history))

    def model(self, purpose: str = "look inside") -> tuple[Session, Module, bool]:
        """The session looked at, a copy of its model, and whether that is the untrained preview (NotApplicable,
        saying what there is no model to do yet, when there is none)."""
        session = self.session()
        if session is not None and getattr(session, "model", None) is not None:
            return session, session.model_copy(), False
        preview = self.preview(purpose)
        return preview, preview.model_copy(), True

    def preview(self, purpose: str = "look inside") -> Session:
        """The untrained session of the current configuration (prepared once per configuration)."""
        config = self.config()
        with self._preparing:
            if self._preview is not None and self._preview[0] == config:
                return self._preview[1]
            try:
                session = Session(config, dataset=self.dataset)
                session.prepare()
            except Exception as error:   # an unfinished model, a data set that cannot be had: say so, in one line
                raise NotApplicable(f"There is no model to {purpose} yet: {error}") from None
            self._preview = (config, session)
            return session
