"""`nnstudio bench`: how fast nnstudio trains the benchmark MLP and CNN on MNIST.

It times what `nnstudio train` and the studio run: a `Session` of a benchmark model with Adam
(lr 1e-3, no schedule), no validation split and no checkpoints, for a few epochs; each epoch's training seconds
and samples/s come from the session's `EpochEnd` events and the test accuracy from
`Session.evaluate_test`. The table reports the best and mean epoch time, samples per second,
test accuracy and the process's peak memory. Speed is measured here and in scripts, never in
the test suite. Run it beside shared/bench/reference_mlp.py in the same session and compare
the times as a ratio: absolute seconds drift between runs.

The benchmark models are fixed, so figures stay comparable as the presets improve: the MLP and
CNN presets without the dropout (and the CNN's hidden layer) they gained for accuracy.
"""

from __future__ import annotations

import dataclasses
import json
import resource
from dataclasses import asdict, dataclass

from nnstudio.datasets import Dataset, DatasetError, load_dataset
from nnstudio.engine.events import Diverged, EpochEnd, Failed

from nnstudio.engine.fields import Field
from nnstudio.engine.presets import preset_spec

from ..run import RunConfig, Session, SessionError, Status
from .common import UsageError, fail, field_type, parse_flag

PROG = "nnstudio bench"
#: the benchmark models by name: the MLP 784-128-64-10 and the CNN conv16-pool-conv32-pool-linear
BENCH_MODELS = {"mlp": {"dropout": 0}, "cnn": {"hidden": (), "dropout": 0}}
MODELS = tuple(BENCH_MODELS)
#: epochs, batch size, a limit: whole numbers >= 1, read by the rules every setting follows
_POSITIVE = field_type(Field("value", int, low=1))


@dataclass
class BenchResult:
    """One model's figures."""

    model: str
    parameters: int
    batch_size: int
    epochs: int
    train_samples: int
    best_epoch_s: float
    mean_epoch_s: float
    samples_per_s: float
    test_accuracy: float
    peak_rss_mb: float


class BenchError(Exception):
    """A benchmark run did not finish; the message says why."""


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_config(name: str, epochs: int, batch_size: int, seed: int) -> RunConfig:
    """The run a benchmark times: model `name` on MNIST with Adam lr 1e-3 and no schedule, every row trained,
    no checkpoints."""
    return RunConfig().replace(**{
        "data.name": "mnist", "data.val_fraction": 0.0, "model.preset": name,
        "model.spec": preset_spec(name, **BENCH_MODELS[name]), "optimizer.name": "adam", "optimizer.lr": 1e-3,
        "schedule.name": "none", "training.epochs": epochs, "training.batch_size": batch_size, "training.seed": seed,
        "checkpoints.every_epoch": False})


def first_rows(dataset: Dataset, limit: int | None) -> Dataset:
    """The data set with only its first `limit` training rows (all of them for None); the test split stays whole."""
    if not limit:
        return dataset
    return dataclasses.replace(dataset, x_train=dataset.x_train[:limit], y_train=dataset.y_train[:limit])


def bench_model(name: str, dataset: Dataset, epochs: int, batch_size: int, seed: int, on_epoch=None) -> BenchResult:
    """Train preset `name` from a fixed seed in a session and report its epochs' times."""
    ends: list[EpochEnd] = []
    problems: list[str] = []

    def on_event(event) -> None:
        if isinstance(event, EpochEnd):
            ends.append(event)
            if on_epoch is not None:
                on_epoch(name, event)
        elif isinstance(event, (Diverged, Failed)):
            problems.append(event.message)

    session = Session(bench_config(name, epochs, batch_size, seed), dataset=dataset, on_event=on_event)
    outcome = session.run()
    if outcome is not Status.FINISHED:
        raise BenchError(f"{name}: the run {outcome}" + (f": {problems[-1]}" if problems else ""))
    best = min(ends, key=lambda end: end.seconds)
    return BenchResult(name, session.model.num_parameters(), batch_size, epochs, len(session.data.x_train),
                       best.seconds, sum(end.seconds for end in ends) / len(ends), best.samples_per_s,
                       session.evaluate_test()["test_acc"], peak_rss_mb())


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="time training of the benchmark MLP and CNN on MNIST",
        description="Train the benchmark models (MLP 784-128-64-10 ReLU; CNN conv16-pool-conv32-pool-linear) "
                    "with Adam lr 1e-3 on MNIST and report seconds per epoch, samples/s, test accuracy "
                    "and peak memory.")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="which models (default: both)")
    parser.add_argument("--epochs", type=_POSITIVE, default=3, help="epochs per model (default 3; the best is reported)")
    parser.add_argument("--cnn-epochs", type=_POSITIVE, default=None, help="epochs for the CNN (default: --epochs)")
    parser.add_argument("--batch-size", type=_POSITIVE, default=64, help="mini-batch size (default 64)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the four MNIST IDX files (default: NNSTUDIO_DATA_DIR, the cache, a download)")
    parser.add_argument("--limit", type=_POSITIVE, default=None, help="train on the first N images only (quick runs)")
    parser.add_argument("--seed", type=field_type(Field("seed", int, low=0)), default=0, help="random seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per model instead of a table")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from rich.console import Console

    console = Console(stderr=args.json)
    try:
        data_dir = parse_flag("--data-dir", args.data_dir) if args.data_dir is not None else None
        dataset = load_dataset("mnist", data_dir=data_dir or None)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    except DatasetError as error:
        return fail(PROG, str(error))
    if dataset.notice:
        console.print(f"[bold yellow]note:[/] {dataset.notice}")
    dataset = first_rows(dataset, args.limit)
    console.print(f"MNIST from {dataset.source}: {len(dataset.x_train)} train / {len(dataset.x_test)} test images, "
                  f"batch {args.batch_size}")

    def on_epoch(name: str, end: EpochEnd) -> None:
        console.print(f"  {name} epoch {end.epoch + 1}: {end.seconds:.3f} s, loss {end.train_loss:.4f}, "
                      f"train accuracy {end.train_accuracy:.4f}")

    results = []
    for name in args.models:
        epochs = args.cnn_epochs if name == "cnn" and args.cnn_epochs else args.epochs
        try:
            result = bench_model(name, dataset, epochs, args.batch_size, args.seed, on_epoch)
        except (BenchError, SessionError) as error:
            return fail(PROG, str(error))
        results.append(result)
        if args.json:
            print(json.dumps(asdict(result)), flush=True)
    if not args.json:
        console.print(_table(results))
    return 0


#: (header, justification): short headers, and what all rows share in the title, so the table fits 80 columns
COLUMNS = (("model", "left"), ("params", "right"), ("best\ns/epoch", "right"), ("mean\ns/epoch", "right"),
           ("samples/s", "right"), ("test acc", "right"), ("peak MB", "right"))


def _title(results: list[BenchResult]) -> str:
    """What every row shares (optimizer, dtype, batch, epochs), so the columns need not repeat it."""
    batches = sorted({r.batch_size for r in results})
    epochs = {r.model: r.epochs for r in results}
    if len(set(epochs.values())) <= 1:
        n = next(iter(epochs.values()), 0)
        epoch_text = f"{n} epoch{'s' if n != 1 else ''}"
    else:
        epoch_text = "epochs " + ", ".join(f"{model} {n}" for model, n in epochs.items())
    batch_text = "batch " + "/".join(str(b) for b in batches)
    return f"nnstudio bench: Adam lr 1e-3, float32, {batch_text}, {epoch_text}"


def _table(results: list[BenchResult]):
    from rich.table import Table

    table = Table(title=_title(results))
    for header, justify in COLUMNS:
        table.add_column(header, justify=justify, no_wrap=True)
    for r in results:
        table.add_row(r.model, f"{r.parameters:,}", f"{r.best_epoch_s:.3f}", f"{r.mean_epoch_s:.3f}",
                      f"{r.samples_per_s:,.0f}", f"{r.test_accuracy:.4f}", f"{r.peak_rss_mb:,.0f}")
    return table
