"""The run core: a training run's configuration and the session that trains it, for any front end.

    from nnstudio.tui.run import RunConfig, Session

    config = RunConfig().replace(**{"data.name": "spirals", "optimizer.lr": 0.03})
    session = Session(config, on_event=print)   # events: BatchEnd, EpochEnd, StatusChanged, Finished, ...
    session.run()                               # blocking; pause/resume/stop/set_live from other threads

Modules: `settings` (every setting, typed), `config` (RunConfig, TOML files), `session` (Session, with
`controls`, `recording`, `continuing` and `scoring` its parts),
`status` (what a run is doing), `reports` (the session's errors and news), `reopening` (saves
read back into configs and runs), `training_data` (the data a run learns from), `factory` (config
names to engine objects), `baseline` (kernel ridge on a run's data), `blas` (threads), `arguments`
(the command-line flags that set a run, which `nnstudio train` and the studio both take).
The command line and the studio are two views of this; neither holds training logic.
Importing it loads neither Textual nor Rich.
"""

from .config import (LIVE_SETTINGS, SETTINGS, ConfigError, RunConfig, config_for_preset, load_config, parse_value,
                     preset_default, setting_at, write_config)
from .reports import CheckpointSaved, MismatchError, Notice, NothingToTrain, Prepared, SessionError
from .reopening import (config_from_metadata, config_problem, inspect_save, list_saves, outputs_problem, recorded_config,
                        saved_config)
from .session import Session
from .status import Status, StatusChanged

__all__ = [
    "RunConfig", "ConfigError", "SETTINGS", "LIVE_SETTINGS", "load_config", "write_config", "parse_value", "setting_at",
    "config_for_preset", "preset_default",
    "Session", "SessionError", "MismatchError", "NothingToTrain", "Notice", "CheckpointSaved", "Prepared",
    "Status", "StatusChanged", "saved_config", "config_from_metadata", "config_problem", "recorded_config",
    "list_saves", "inspect_save", "outputs_problem",
]
