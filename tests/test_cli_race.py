"""`nnstudio race`: the map and the standings (plain characters when piped), the JSON, the run settings, and every
bad argument as one line with exit status 2 (did-you-mean for names)."""

from __future__ import annotations

import argparse
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnstudio.engine.surfaces import SURFACES
from nnstudio.tui.cli.race import optimizers_type, pair_type

from test_cli_train import nnstudio, run_cli


def race(capsys, *args: str, status: int = 0) -> tuple[str, str]:
    """stdout and stderr of `nnstudio race ARGS` run in this process (stdout is no terminal: piped)."""
    assert run_cli("race", *args) == status
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_the_map_and_the_standings_in_plain_characters(capsys):
    out, err = race(capsys, "--steps", "100")
    lines = out.splitlines()
    assert err == "" and "\x1b[" not in out and out.isascii() is False   # "·" and "…": the encoding is UTF-8
    assert lines[0] == "Rosenbrock · step 100 · lr 0.001 · (1-x)^2 + 100(y-x^2)^2"
    assert all(len(line) <= 80 for line in lines[:26]) and len(lines[1]) == 80   # the piped size: 80 x 24
    table = out[out.index("optimizer"):]
    for label in ("SGD", "Momentum", "Nesterov", "RMSprop", "Adam", "AdamW"):
        assert f" {label} " in table
    assert "AdamW = Adam: weight decay 0" in out and SURFACES["rosenbrock"].about in out


def test_the_standings_fit_80_columns_one_line_a_racer(capsys):
    out, _ = race(capsys, "--function", "ravine", "--lr", "0.1")
    table = out[out.index("optimizer"):].splitlines()[:7]
    assert all(len(line.rstrip()) <= 80 for line in table)
    rows = {line.split()[1]: line for line in table[1:]}
    assert list(rows) == ["SGD", "Momentum", "Nesterov", "RMSprop", "Adam", "AdamW"]   # (no row wrapped in two)
    assert rows["SGD"].rstrip().endswith("diverged at 3") and "(0.000, 0.000)" in rows["Adam"]


def test_the_json_has_every_path(capsys):
    out, _ = race(capsys, "--function", "ravine", "--steps", "40", "--optimizers", "adam,sgd", "--json")
    data = json.loads(out)
    assert data["function"] == "ravine" and data["steps"] == 40 and data["lr"] == SURFACES["ravine"].lr
    assert [o["name"] for o in data["optimizers"]] == ["adam", "sgd"]
    assert all(len(o["path"]) == 41 and o["status"] == "racing" for o in data["optimizers"])


def test_start_lr_and_size_are_taken(capsys):
    out, _ = race(capsys, "--function", "himmelblau", "--start", "-1.5,2", "--lr", "0.002", "--steps", "5",
                  "--width", "40", "--height", "10")
    lines = out.splitlines()
    assert "step 5 · lr 0.002" in lines[0] and "start (-1.5, 2)" in out
    assert [len(line) for line in lines[1:11]] == [40] * 10 and "start" in lines[11]


def test_a_diverging_optimizer_is_a_result_not_an_error(capsys):
    out, err = race(capsys, "--lr", "0.05", "--steps", "50", "--optimizers", "sgd,adam")
    assert err == "" and "diverged at" in out and "nan" not in out.lower()


def test_the_run_settings_are_the_optimizers(capsys, tmp_path):
    out, _ = race(capsys, "--momentum", "0", "--steps", "3")
    assert "momentum left out: momentum is 0 in the settings" in out and " Nesterov " not in out
    config = tmp_path / "run.toml"
    config.write_text("[optimizer]\nname = \"adamw\"\nweight_decay = 0.1\nmomentum = 0.5\n")
    data = json.loads(race(capsys, "--config", str(config), "--steps", "1", "--json")[0])
    assert data["settings"]["weight_decay"] == 0.1 and data["settings"]["momentum"] == 0.5


@pytest.mark.parametrize("args, message", [
    (["--function", "rosenbrok"], "no function 'rosenbrok' (did you mean 'rosenbrock'?)"),
    (["--optimizers", "sgd,adma"], "no optimizer 'adma' (did you mean 'adam'?)"),
    (["--optimizers", ","], "name at least one of sgd"),
    (["--start", "1"], "a start is two numbers X,Y"),
    (["--start", "nan,1"], "a start is two finite numbers"),
    (["--start", "9,9"], "--start 9,9 is outside the rosenbrock map (x -2 to 2, y -1 to 3)"),
    (["--lr", "0"], "--lr"),
    (["--steps", "-1"], "--steps"),
    (["--momentum", "2"], "--momentum: optimizer.momentum"),
    (["--config", "no-such.toml"], "no such config file"),
    (["--momentum", "0", "--optimizers", "momentum"], "no optimizer can race: momentum left out"),
])
def test_bad_arguments_are_one_line_and_exit_2(capsys, args, message):
    out, err = race(capsys, *args, status=2)
    assert out == "" and err.count("\n") == 1 and err.startswith("nnstudio race: error:") and message in err


def test_a_negative_start_needs_no_equals_sign(tmp_path):
    done = nnstudio(tmp_path, "race", "--start", "-1.2,-0.5", "--steps", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["start"] == [-1.2, -0.5]


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False))
def test_a_pair_reads_back_what_was_written(x, y):
    assert pair_type(f"{x!r},{y!r}") == (x, y)


@given(st.text(max_size=30))
def test_any_text_is_a_pair_of_finite_numbers_or_one_clear_error(text):
    try:
        x, y = pair_type(text)
    except argparse.ArgumentTypeError as error:
        assert "start is two" in str(error)
    else:
        assert math.isfinite(x) and math.isfinite(y)


@given(st.lists(st.sampled_from(["sgd", "Adam", " rmsprop", "adamw ", "momentum", "nesterov"]), min_size=1))
def test_a_list_of_optimizers_is_read_in_order_each_once(names):
    read = optimizers_type(",".join(names))
    assert list(read) == list(dict.fromkeys(name.strip().lower() for name in names))
