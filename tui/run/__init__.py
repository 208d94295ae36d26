"""The run core: a training run's configuration and the session that trains it, for any front end.

    from nnstudio.tui.run import RunConfig, Session

    config = RunConfig().replace(**{"data.name": "spirals", "optimizer.lr": 0.03})
    session = Session(config, on_event=print)   # events: BatchEnd, EpochEnd, Finished, ...
    session.run()                               # blocking; pause/resume/stop/set_live from other threads

The command line and the studio are two views of this; neither holds training logic. Importing
it loads neither Textual nor Rich.
"""

from .config import (LIVE_SETTINGS, SETTINGS, ConfigError, RunConfig, load_config, parse_value, setting_at,
                     write_config)
from .session import (CheckpointSaved, MismatchError, Notice, NothingToTrain, Session, SessionError, config_from_metadata,
                      saved_config)

__all__ = [
    "RunConfig", "ConfigError", "SETTINGS", "LIVE_SETTINGS", "load_config", "write_config", "parse_value", "setting_at",
    "Session", "SessionError", "MismatchError", "NothingToTrain", "Notice", "CheckpointSaved", "saved_config",
    "config_from_metadata",
]
