"""What the Inside pane looks at: the studio's session, or, before it trains, the model it would train.

Called in the pane's worker thread. A running session's model is copied between two batches
(`Session.model_copy`). With no session yet (nothing trained, or just re-initialised), a session is
prepared from the studio's configuration but never run: the same data, and the same initial weights
that pressing space would start from (the seed makes them), so the views and the gradient check work
before the first epoch. It is kept while the configuration stays the same.
"""

from __future__ import annotations

from typing import Callable

from ..run import Session
from ..run.config import RunConfig
from ..run.inside import NotApplicable, Subject


class InsideSource:
    """A callable giving the Inside pane its Subject."""

    def __init__(self, session: Callable[[], Session | None], config: Callable[[], RunConfig], dataset=None) -> None:
        self.session, self.config, self.dataset = session, config, dataset
        self._preview: tuple[RunConfig, Session] | None = None

    def __call__(self) -> Subject:
        session = self.session()
        if session is not None and getattr(session, "model", None) is not None:
            return Subject.of_session(session, session.model_copy(), history=list(session.history))
        preview = self.preview()
        return Subject.of_session(preview, preview.model_copy(), history=[])

    def preview(self) -> Session:
        """The untrained session of the current configuration (prepared once per configuration)."""
        config = self.config()
        if self._preview is not None and self._preview[0] == config:
            return self._preview[1]
        try:
            session = Session(config, dataset=self.dataset)
            session.prepare()
        except Exception as error:   # an unfinished model, a data set that cannot be had: say so, in one line
            raise NotApplicable(f"There is no model to look inside yet: {error}") from None
        self._preview = (config, session)
        return session
