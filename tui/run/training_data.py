"""The data a run learns from: its configured data set, loaded, then split and scaled as the config says.

One place for the session and the kernel ridge baseline, so a network and its yardstick see the
same training, validation and test rows, scaled alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Callable

from nnstudio.datasets import DatasetError, PreparedData, Standardizer, load_dataset, prepare
from nnstudio.datasets.dataset import Dataset
from nnstudio.datasets.preprocess import OLD_SPLIT_RULE, SPLIT_RULE, SPLIT_RULES
from nnstudio.saves.schema import Metadata

from .config import RunConfig, dataset_options
from .reports import Notice, SessionError


def load_run_dataset(config: RunConfig, on_event: Callable[[Any], None]) -> Dataset:
    """The configured data set; a download on the way is reported as `DownloadProgress` events through
    `on_event`, a stand-in (the embedded digits for a missing MNIST) as a `Notice`. SessionError if it
    cannot be had."""
    try:
        dataset = load_dataset(config.data.name, progress=on_event, **dataset_options(config))
    except DatasetError as error:
        raise SessionError(str(error)) from None
    if dataset.notice:
        on_event(Notice(dataset.notice))
    return dataset


def prepare_run_data(config: RunConfig, dataset: Dataset, layout: str = "flat",
                     split_rule: str = SPLIT_RULE, standardizer: Standardizer | None = None) -> PreparedData:
    """The data set split (validation held out, seeded, counted by `split_rule`) and scaled as the config says,
    in `layout` ("flat" vectors or "image" arrays). An imported table is always standardised, column by column
    (`Dataset.standardize`); `standardizer` (a save's statistics) is used instead of measuring them anew."""
    try:
        return prepare(dataset, val_fraction=config.data.val_fraction, seed=config.training.seed,
                       standardize=config.data.standardize or dataset.standardize is not None,
                       per_feature=dataset.standardize == "per-feature", layout=layout,
                       train_size=config.data.train_size or None, split_rule=split_rule, standardizer=standardizer)
    except DatasetError as error:
        raise SessionError(str(error)) from None


def saved_standardizer(metadata: Metadata) -> Standardizer | None:
    """The standardisation statistics a save or checkpoint trained with, to meet its inputs scaled the same way
    (an imported set re-imported since would otherwise be scaled by its new rows); None where it records none."""
    normalisation = (metadata.dataset or {}).get("normalisation")
    stats = normalisation.get("standardize") if isinstance(normalisation, dict) else None
    try:
        return Standardizer.from_dict(stats) if isinstance(stats, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def split_rule_of(metadata: Metadata) -> str:
    """The split a save or checkpoint was trained on (`preprocess.SPLIT_RULES`), for a run that goes on from it to
    validate on the same rows: the rule its data set record names, else the rule of before rules were recorded."""
    normalisation = (metadata.dataset or {}).get("normalisation")
    rule = normalisation.get("split") if isinstance(normalisation, dict) else None
    return rule if rule in SPLIT_RULES else OLD_SPLIT_RULE


def check_datasets(configs: Iterable[RunConfig]) -> list[str]:
    """Each distinct data set these configs train on (a sweep's trials: most share one), loaded once and split as
    the first config using it says, before any of them trains: the SessionError a run would raise (a folder
    without the data set, a training subset larger than its rows) comes once, up front. The stand-ins' notices
    (the embedded digits for a missing MNIST), each once, in order."""
    loaded: dict[str, Dataset] = {}
    split: set[str] = set()
    notices: list[str] = []

    def heard(event: Any) -> None:
        if isinstance(event, Notice) and event.text not in notices:
            notices.append(event.text)

    for config in configs:
        which = json.dumps([config.data.name, dataset_options(config)], sort_keys=True, default=str)
        if which not in loaded:
            loaded[which] = load_run_dataset(config, heard)
        how = json.dumps([which, config.data.val_fraction, config.data.train_size], default=str)
        if how not in split:
            split.add(how)
            prepare_run_data(config, loaded[which])
    return notices
