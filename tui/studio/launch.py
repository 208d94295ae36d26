"""Making the studio: the run it opens on (the default data set where the full MNIST is not at hand), its
saves and data folders, a save to open, whether to offer resuming an interrupted run."""

from __future__ import annotations

from pathlib import Path

from nnstudio import saves
from nnstudio.datasets import EMBEDDED_NAME, MNIST, DatasetError
from nnstudio.datasets.dataset import Dataset
from nnstudio.datasets.locations import locate

from ..run.config import RunConfig
from .app import StudioApp


def create_app(*, config: RunConfig | None = None, dataset: Dataset | None = None, saves_dir: str | Path | None = None,
               data_dir: str | Path | None = None, open_path: str | Path | None = None,
               offer_resume: bool = True, default_data: bool | None = None) -> StudioApp:
    """The studio, configured: the default run (MNIST, the MLP preset, Adam) unless `config` says otherwise;
    when the data set is the default one (`default_data`, true when no `config` is given) and no folder of
    IDX files is named, MNIST is the embedded subset unless the full set is at hand.

    `dataset` replaces the configured data set for every run (tests inject a tiny one);
    `saves_dir` is where saves and checkpoints go (default: the config's, else the default saves
    folder, `saves.default_folder()`); `data_dir` is the folder of IDX files to train on (the settings pane's
    data.data_dir); `open_path` opens a save at once; `offer_resume` asks to resume the
    latest interrupted run found in the saves folder.
    """
    embedded_default = False
    if default_data is None:
        default_data = config is None
    config = config or RunConfig()
    if default_data and data_dir is None and not config.data.data_dir and not mnist_at_hand():
        config, embedded_default = config.replace(**{"data.name": EMBEDDED_NAME}), True
    if saves_dir is None and not config.checkpoints.folder:
        saves_dir = saves.default_folder()
    if saves_dir is not None:
        config = config.replace(**{"checkpoints.folder": str(saves_dir)})
    if data_dir is not None:
        config = config.replace(**{"data.data_dir": str(data_dir)})
    return StudioApp(config, dataset=dataset, open_path=Path(open_path) if open_path else None,
                     offer_resume=offer_resume, embedded_default=embedded_default)


def mnist_at_hand() -> bool:
    """Whether the full MNIST is on this machine already (NNSTUDIO_DATA_DIR, the cache, a system folder).

    The studio opens on it if so, and otherwise on the embedded subset, so that the first key
    press trains at once: the full set is downloaded only when asked for (data.name mnist).
    """
    try:
        return locate(MNIST).found is not None
    except DatasetError:
        return False
