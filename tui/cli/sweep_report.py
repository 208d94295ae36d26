"""What `nnstudio sweep` prints of its trials: each one's outcome, the ranking, an experiment's lesson table, and
`--json`'s objects (a planned trial, a trial's result, the summary that ends the output)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..run.experiments import lesson
from ..run.sweep_folder import Sweep
from ..run.sweeps import Trial


def outcome(record: dict) -> str:
    status = record.get("status", "?")
    best = score(record)
    epochs = record.get("epochs")
    seconds = record.get("seconds")
    figures = " · ".join(x for x in (best, f"{epochs} epoch{'s' if epochs != 1 else ''}" if epochs else "",
                                      f"{seconds:.1f} s" if isinstance(seconds, (int, float)) and seconds else "") if x)
    style = {"finished": "green", "early-stopped": "green", "diverged": "red", "failed": "red"}.get(status, "yellow")
    why = record.get("why") or ""
    said = f": {escape(why.splitlines()[0])}" if status in ("diverged", "failed") and why else ""
    outside = " [dim](its run ended outside the sweep: its result is taken from it)[/]" if record.get("outside") else ""
    return f"[{style}]{escape(status.replace('_', ' '))}[/]{said}  {figures}{outside}"


def score(record: dict | None) -> str:
    best = (record or {}).get("best")
    if not isinstance(best, (int, float)) or not math.isfinite(best):
        return ""
    return f"best val acc {best:.2%}" if record.get("metric", "val_acc") == "val_acc" else f"best val loss {best:.4g}"


def ranking(sweep: Sweep, show: Console) -> None:
    ranked = sweep.ranked()
    if not any(result for _, result in ranked):
        return
    accuracy = any((r or {}).get("metric", "val_acc") == "val_acc" for _, r in ranked if r)
    table = Table(title=f"sweep {sweep.name}, best first", title_justify="left", box=None, pad_edge=False)
    varied = [a.option.lstrip("-") for a in sweep.plan.axes]
    trained = "trained" if "epochs" in varied else "epochs"   # (the epochs asked for are a column of their own)
    for heading in ("#", "trial", *varied, "best val acc" if accuracy else "best val loss", "final val loss",
                    trained, "status"):
        table.add_column(heading, justify="right" if heading in ("#", "trial", trained) else "left")
    for rank, (trial, result) in enumerate(ranked, 1):
        result = result or {}
        best = result.get("best")
        shown = "—" if not isinstance(best, (int, float)) or not math.isfinite(best) else \
            f"{best:.2%}" if accuracy else f"{best:.4g}"
        final = (result.get("final") or {}).get("val_loss")
        table.add_row(str(rank), str(trial.number), *(trial.texts.get(p, "") for p in sweep.plan.varied), shown,
                      f"{final:.4f}" if isinstance(final, (int, float)) and math.isfinite(final) else "—",
                      str(result.get("epochs", "")), result.get("status", "not run").replace("_", " "))
    show.print(table)
    best_trial, best_result = ranked[0]
    if best_result and score(best_result):
        run = sweep.runs.get(best_trial.number, "")
        show.print(f"Best: trial {best_trial.number} ({escape(best_trial.label)}), {score(best_result)}; "
                   f"its run {escape(run)} (nnstudio runs show {escape(run)}; go on from it: nnstudio train --fork "
                   f"{escape(run)})")


def show_lesson(exp, sweep: Sweep, show: Console) -> None:
    """What the experiment's runs show: its figures per trial, and how to read them."""
    shown = lesson(exp, sweep)
    if not any(any(cell != "—" for cell in row[1 + len(sweep.plan.axes):]) for row in shown.rows):
        return
    table = Table(title=f"What the {exp.name} experiment shows", title_justify="left", box=None, pad_edge=False)
    for heading in shown.headings:
        table.add_column(escape(heading), justify="right" if heading == "trial" else "left")
    for row in shown.rows:
        table.add_row(*(escape(cell) for cell in row))
    show.print(table)
    show.print(f"{escape(exp.reading)} [dim](every run: nnstudio runs list; two side by side: nnstudio runs compare "
               f"RUN RUN; the curves overlaid: the studio's Runs pane)[/]")


def nulls(value):
    """NaN and infinity as null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nulls(v) for v in value]
    return value



# ====================================================================== --json
def planned(trial: Trial, sweep_plan, run: str | None = None) -> dict:
    """A trial `--dry-run --json` lists: its number, label and the settings it sets apart (and the run it would go
    on with, when resumed)."""
    return nulls({"kind": "planned", "trial": trial.number, "label": trial.label, "settings": dict(trial.overrides),
                  **({"baseline": trial.baseline} if trial.baseline is not None else {}),
                  **({"run": run} if run else {})})


def trial_result(number: int, label: str, record: dict) -> dict:
    """A trial's result as `--json` prints it when the trial ends."""
    return nulls({"trial": number, "label": label, **{k: v for k, v in record.items() if k not in ("number", "trial")}})


def summary(sweep: Sweep) -> dict:
    """The object that ends `--json`'s output: the sweep, how many trials ran and are left, the best trial and
    every trial ranked (as the table), each with its run."""
    ranked = []
    for rank, (trial, result) in enumerate(sweep.ranked(), 1):
        result = result or {}
        ranked.append({"rank": rank, "trial": trial.number, "label": trial.label,
                       "status": result.get("status", "not run"), "best": result.get("best"),
                       "metric": result.get("metric", "val_acc"), "final": result.get("final") or {},
                       "epochs": result.get("epochs"), "run": sweep.runs.get(trial.number)})
    best = ranked[0] if ranked and isinstance(ranked[0]["best"], (int, float)) and \
        math.isfinite(ranked[0]["best"]) else None
    done = sum(sweep.done(trial) for trial in sweep.plan.trials)
    return nulls({"kind": "summary", "sweep": sweep.name, "folder": str(sweep.path),
                  **({"experiment": sweep.plan.experiment} if sweep.plan.experiment else {}),
                  "trials": len(sweep.plan.trials), "done": done, "left": len(sweep.plan.trials) - done,
                  "best": best, "ranked": ranked})
