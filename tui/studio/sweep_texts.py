"""What the Sweep pane says in words: a sweep's messages in the form's own words, what a lesson's trials share,
what taking a trial's settings changes."""

from __future__ import annotations

from ..run.config import RunConfig, setting_in
from ..run.forking import changes
from ..run.origins import change_text
from ..run.settings import shown_value

#: a sweep's messages name the command line's flags; the form's fields say them so
FORM_WORDS = (("give a flag more than one value, e.g. --lr 1e-3,1e-2 --optimizer sgd,adam",
               "choose a setting and give it more than one value, e.g. lr 1e-3,1e-2"),
              ("add --trials N", "give a number of trials"),
              ("or --trials N to draw N of them at random", "or a number of trials, drawn at random"),
              ("--trials ", "trials "))


def form_words(message: str) -> str:
    for flag_words, form in FORM_WORDS:
        message = message.replace(flag_words, form)
    return message


#: the settings a lesson's line of what its trials share names, and how
SHARED = (("data.name", "{}"), ("data.train_size", "{:,} training rows"), ("model.preset", "{}"),
          ("optimizer.name", "{}"), ("optimizer.lr", "lr {:g}"), ("optimizer.momentum", "momentum {:g}"),
          ("optimizer.weight_decay", "weight decay {:g}"), ("training.batch_size", "batch {}"),
          ("training.epochs", "{} epochs"))


def shared_text(base: RunConfig, varied) -> str:
    """What every trial of a lesson shares, the settings it varies left out: "mnist · 4,000 training rows · mlp ·
    sgd · momentum 0.9 · batch 64 · 5 epochs"."""
    parts = []
    for path, form in SHARED:
        value = base.get(path)
        if path in varied or value is None or (path == "model.preset" and "model.spec" in varied) or \
                (path == "optimizer.momentum" and not base.applies(path)) or \
                (path == "optimizer.weight_decay" and not value):
            continue
        parts.append(form.format(value))
    return " · ".join(parts)


def changes_text(before: RunConfig, after: RunConfig) -> str | None:
    """What taking `after` changes in `before`: "optimizer adam → sgd, lr 0.001 → 0.1, model → relu-8-he"; None
    when nothing (the folders aside)."""
    changed = changes(before, after)
    if not changed:
        return None
    was = before.portable_dict()
    return ", ".join(f"model → {value.get('name') or 'its own'}" if isinstance(value, dict) else
                     change_text(path, shown_value(path, setting_in(was, path)), shown_value(path, value))
                     for path, value in changed.items())
