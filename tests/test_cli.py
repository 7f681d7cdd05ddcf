"""The CLI shell: help, arch commands, one-line errors with exit 2."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from nasoa.cli.main import app
from test_space import MALFORMED

runner = CliRunner()


def test_help_lists_groups():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for group in ("arch", "search", "bench", "adapt", "zoo", "meta", "train"):
        assert group in r.output


def _commands(group, path=()):
    """Every command under a Click group, with its argument path (listed as `--help` lists them:
    groups may load their commands lazily; Typer carries its own copy of Click, hence no isinstance)."""
    ctx = group.context_class(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield (*path, name), cmd
        if hasattr(cmd, "list_commands"):
            yield from _commands(cmd, (*path, name))


def test_every_help_renders_its_text_as_written():
    """Click shows help text verbatim: a "%%" written for %-formatting reaches the user as "%%"."""
    import typer

    commands = [path for path, _ in _commands(typer.main.get_command(app))]
    assert ("adapt",) in commands and ("meta", "eval") in commands
    for path in commands:
        r = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert r.exit_code == 0, (path, r.output)
        assert "%%" not in r.output, path
    r = runner.invoke(app, ["adapt", "--help"], terminal_width=200)
    assert "30% of the budget" in " ".join(r.output.split())


def test_every_option_has_help():
    import typer

    bare = [(" ".join(path), p.opts[0]) for path, cmd in _commands(typer.main.get_command(app))
            for p in cmd.params if p.param_type_name == "option" and not p.help]
    assert not bare, bare


def test_help_does_not_import_torch():
    code = "import sys; from nasoa.cli.main import app; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_arch_show_published():
    r = runner.invoke(app, ["arch", "show", "etnas_d", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["encoding"] == "031-_64_1-1-221-11121"
    assert abs(out["params"] / 1e6 - 15.24) < 0.01
    assert [s["stage"] for s in out["stages"]] == ["stem", "stage1", "stage2", "stage3", "stage4"]
    r = runner.invoke(app, ["arch", "show", "031-_32_1-1-221-11121", "--size", "32", "--classes", "10"])
    assert r.exit_code == 0 and "stage4" in r.output and "small stem" in r.output


def test_arch_sample_deterministic():
    a = runner.invoke(app, ["arch", "sample", "--seed", "3", "-n", "4"])
    b = runner.invoke(app, ["arch", "sample", "--seed", "3", "-n", "4"])
    assert a.exit_code == 0 and a.output == b.output and len(a.output.strip().splitlines()) == 4
    m = runner.invoke(app, ["arch", "sample", "--mutate", "etnas_b", "--level", "macro", "-n", "3"])
    assert m.exit_code == 0
    for line in m.output.strip().splitlines():
        assert line.startswith("031-_32_")


@pytest.mark.parametrize("encoding,position,reason", MALFORMED)
def test_malformed_encoding_one_line_exit_2(encoding, position, reason):
    r = runner.invoke(app, ["arch", "show", encoding])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert f"position {position}" in lines[0] and "Traceback" not in r.output


def test_malformed_through_real_process():
    p = subprocess.run(
        [sys.executable, "-m", "nasoa.cli.main", "arch", "show", "031-_32_1-1-231-11121"], capture_output=True, text=True
    )
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "position 13" in p.stderr and "Traceback" not in p.stderr


def test_a_plan_far_from_what_ran_suggests_calibrating_the_machine(capsys):
    """An adapt run whose epochs missed the plan by more than 25% on a machine never calibrated says so
    and names `nasoa zoo calibrate`; within 25%, once calibrated, or for a run without a time model (a
    plain `nasoa train`), it says nothing."""
    from nasoa.cli._options import print_result

    base = {"model": "m", "task": "t", "num_classes": 2, "num_train": 10, "num_val": 5, "strategy": "nasoa",
            "n_candidates": 3, "recommend_ms": 1.0, "regime": {"lr": 0.01, "frozen_stages": 0, "schedule": "cosine",
                                                               "optimizer": "adamw", "batch_size": 64},
            "val_accuracy": 0.9, "steps": 100, "epochs": 26.4, "planned_epochs": 42.4, "images_per_s": 300.0,
            "elapsed_s": 57.7, "budget_s": 60.0, "predicted_s": 57.1, "stop_reason": "planned", "run_dir": "r",
            "time_model": {"runs": 1700, "here": {"runs": 1, "calibration": 0}}}
    cases = [(base, True), ({**base, "epochs": 40.0}, False),
             ({**base, "time_model": {"runs": 1700, "here": {"runs": 0, "calibration": 16}}}, False),
             ({**base, "time_model": None}, False), ({**base, "stop_reason": "diverged"}, False)]
    for p, says in cases:
        print_result(p)
        out = capsys.readouterr().out
        assert ("`nasoa zoo calibrate`" in out) == says, out
        if says:
            assert "ran 0.62x the planned epochs" in " ".join(out.split())


@pytest.mark.parametrize("argv", [["data", "list", "--json"], ["arch", "sample", "-n", "3"]])
def test_a_reader_that_goes_away_ends_the_command_quietly(argv):
    """`nasoa ... | head`: output to a pipe whose reader has gone ends with the shell's code for a broken
    pipe (141) and no error line or traceback: nothing was wrong with the input."""
    p = subprocess.Popen([sys.executable, "-m", "nasoa.cli.main", *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()  # before the interpreter has started: its first write finds no reader
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141, err
    assert "error" not in err and "Traceback" not in err and "Exception ignored" not in err


def _sources():
    return json.loads(runner.invoke(app, ["data", "list", "--json"]).output)


def test_listings_piped_keep_each_row_whole_on_one_line():
    """`nasoa data list | grep fractals`: output that goes to no terminal is printed at the table's own width,
    not squeezed into 80 columns, so each source's name and title sit whole on one line."""
    r = runner.invoke(app, ["data", "list"], env={"COLUMNS": None})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    for s in _sources():
        assert any(f"│ {s['name']} " in ln and s["title"] in ln for ln in lines), (s["name"], r.output)
    r = runner.invoke(app, ["zoo", "list"], env={"COLUMNS": None})
    assert r.exit_code == 0, r.output
    for m in json.loads(runner.invoke(app, ["zoo", "list", "--json"]).output):
        assert any(f"│ {m['name']} " in ln and (m.get("encoding") or m.get("family")) in ln
                   for ln in r.output.splitlines()), (m["name"], r.output)


def test_listings_on_a_narrow_terminal_never_cut_a_name():
    """At 80 columns (or fewer) the sources are listed two lines each, and the zoo's table wraps its other
    columns first: no name a user types back is cut short with an ellipsis."""
    r = runner.invoke(app, ["data", "list"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    for s in _sources():
        assert f"{s['name']} ({s['kind']}): {s['title']}" in r.output.splitlines()
    r = runner.invoke(app, ["zoo", "list"], env={"COLUMNS": "70"})
    assert r.exit_code == 0, r.output
    assert max(map(len, r.output.splitlines())) <= 70
    for m in json.loads(runner.invoke(app, ["zoo", "list", "--json"]).output):
        assert any(f"│ {m['name']} " in ln for ln in r.output.splitlines()), (m["name"], r.output)
