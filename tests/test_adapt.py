"""`nasoa adapt`: one-shot choice, deadline, run dir, online learning, strategies, errors."""

import json
import time

import pytest
import torch
from typer.testing import CliRunner

import nasoa
from nasoa.cli.main import app
from nasoa.core.data import load_images
from nasoa.meta.store import ExperienceStore

runner = CliRunner()
TASK = "builtin:digits?per_class=40"


def _count(store):
    from nasoa.meta.store import ExperienceStore

    return ExperienceStore(store).count()


def test_dry_run_lists_candidates_and_writes_nothing(tiny_zoo):
    store = tiny_zoo / "exp.sqlite"
    r = runner.invoke(app, ["adapt", TASK, "--budget", "20s", "--dry-run", "--store", str(store), "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert m["n_candidates"] >= 8 and m["recommend_ms"] > 0 and m["top"]
    assert m["model"] == "tiny_member" and m["strategy"] == "nasoa"
    assert m["transfer"]["scored"] == ["tiny_member"] and set(m["transfer"]["costs_s"]) == {"tiny_member"}
    # No run measured here yet: the profiled table stands; the machine's speed is measured all the same.
    assert m["time_model"]["runs"] == 0 and m["time_model"]["speed_by"] == "cpu"
    assert 0 < m["time_model"]["speed_probe_ms"] < 1000
    # The speed is the median of this boot's recent readings; this call's own reading is kept beside it.
    assert 0 < m["time_model"]["speed_probe_raw_ms"] < 1000 and m["time_model"]["speed_probe_readings"] >= 1
    assert _count(store) == 0
    r = runner.invoke(app, ["adapt", TASK, "--budget", "20s", "--dry-run", "--store", str(store)])
    assert r.exit_code == 0 and "candidate regimes fit 20s" in r.output
    assert "time model: the zoo's profiled step times" in r.output
    assert "transferability: 1 cached" in r.output  # the first dry run cached the member's scores


@pytest.mark.parametrize("score, mode, rankings", [(0.4, "auto", 1), (2.5, "auto", 2), (0.4, "always", 2),
                                                    (2.5, "never", 1)])
def test_candidates_are_ranked_again_only_for_a_probe(tiny_zoo, monkeypatch, score, mode, rankings):
    """A familiar task (or --probe never) is ranked once: the probe's wider ranking costs a part of
    a short budget (0.6 s here) and is made only when the pick will probe."""
    from nasoa.meta.metamodel import MetaModel

    calls = []
    recommend = MetaModel.recommend
    monkeypatch.setattr(MetaModel, "novelty", lambda self, features: {"score": score})
    monkeypatch.setattr(MetaModel, "recommend", lambda self, *a, **kw: calls.append(kw) or recommend(self, *a, **kw))
    nasoa.adapt(TASK, 20.0, store=tiny_zoo / "exp.sqlite", dry_run=True, probe=mode)
    assert [kw.get("k") for kw in calls] == [5, 200][:rankings]


def test_task_features_are_cached_only_when_the_run_goes_ahead(tiny_zoo, monkeypatch):
    """A refused adapt (the budget fits no regime) once left its task in the store's tasks table;
    --no-learn did too. Now only a command that goes ahead caches them, and a later one reuses them."""
    from nasoa.meta import features
    from nasoa.meta.store import ExperienceStore

    store = tiny_zoo / "exp.sqlite"
    ExperienceStore(store).close()

    def tasks() -> list:  # the tasks table: the features cache
        with ExperienceStore(store) as st:
            rows = st.con.execute("SELECT task_id, task_spec, features FROM tasks").fetchall()
        return [(tid, spec, json.loads(f)) for tid, spec, f in rows]

    computed = []
    real = features.task_meta_features
    monkeypatch.setattr(features, "task_meta_features", lambda *a, **k: computed.append(1) or real(*a, **k))
    monkeypatch.setenv("NASOA_MACHINE_FACTOR", "1000")  # no regime fits 8s on a machine this slow
    r = runner.invoke(app, ["adapt", TASK, "--budget", "8s", "--store", str(store)])
    assert r.exit_code == 2 and "too small for every candidate" in r.output, r.output
    assert computed and tasks() == []
    monkeypatch.delenv("NASOA_MACHINE_FACTOR")
    r = runner.invoke(app, ["adapt", TASK, "--budget", "20s", "--dry-run", "--no-learn", "--store", str(store)])
    assert r.exit_code == 0, r.output
    assert tasks() == []
    r = runner.invoke(app, ["adapt", TASK, "--budget", "20s", "--dry-run", "--store", str(store)])
    assert r.exit_code == 0, r.output
    (tid, spec, cached), = tasks()
    assert cached["logme"].keys() == {"tiny_member"} and spec.startswith("builtin:digits")
    computed.clear()
    r = runner.invoke(app, ["adapt", TASK, "--budget", "20s", "--dry-run", "--store", str(store)])
    assert r.exit_code == 0 and computed == [], r.output  # read from the cache


def test_adapt_runs_within_budget_and_learns(tiny_zoo):
    store = tiny_zoo / "exp.sqlite"
    out = tiny_zoo / "run"
    t = time.time()
    r = runner.invoke(app, ["adapt", TASK, "--budget", "12s", "--store", str(store), "--out", str(out), "--json"])
    wall = time.time() - t
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout.strip().splitlines()[-1])
    for key in ("val_accuracy", "elapsed_s", "budget_s", "model", "regime", "strategy", "predicted_accuracy"):
        assert key in m
    assert 0 <= m["val_accuracy"] <= 1 and m["elapsed_s"] <= 12 * 1.05 + 0.5 and wall <= 12 * 1.05 + 1.0
    for f in ("manifest.json", "model.safetensors", "classes.json", "curve.png"):
        assert (out / f).exists(), f
    assert json.loads((out / "manifest.json").read_text())["adapt"]["strategy"] == "nasoa"
    assert _count(store) == 1
    # The run says what it spent before its member and what its post-training phase took; both
    # reach the store (the time model's overheads, the next run's post-training reserve).
    assert m["post_s"]["reserved"] == 1.5 and 0 < m["post_s"]["took"] < m["budget_s"]
    st = ExperienceStore(store)
    extra = st.records()[0].extra
    assert 0 < extra["choice_s"] < m["elapsed_s"] and 0 < extra["cpu_share"] <= 1.5
    # The plan was made over what was left less the post-training reserve, which the run records so
    # that the time model learns its overheads without it.
    assert extra["reserve_s"] == m["post_s"]["reserved"] > 0
    assert m["top"][0]["budget_s"] <= 12 - extra["choice_s"] - extra["reserve_s"] + 1.0
    assert 0 <= extra["cpu_wait"] <= 1  # its threads' wait for a core (Linux reports it)
    assert 0 < extra["speed_probe_ms"] < 1000  # the machine's speed, measured when the plan was calibrated
    # The reserve's sample is read after the manifest is written too (the whole post-training phase).
    (stored,) = [v["s"] for v in json.loads(st.get_meta("adapt.post_s"))]
    assert m["post_s"]["took"] - 0.001 <= stored < m["budget_s"]
    st.close()
    r = runner.invoke(app, ["adapt", TASK, "--budget", "10s", "--store", str(store), "--no-learn", "--json",
                            "--out", str(tiny_zoo / "run2")])
    assert r.exit_code == 0, r.output
    assert _count(store) == 1  # --no-learn leaves the store untouched


def test_the_python_api_runs_adapt_and_predict_on_a_folder(tiny_zoo):
    """`import nasoa` gives the jobs the CLI runs: adapt on a user's folder, predict on its val/
    folder (the accuracy the run recorded), load_task; bad data is a one-line DataError."""
    from nasoa.core.data import export_image_folder

    folder = tiny_zoo / "mine"
    export_image_folder(nasoa.load_task("builtin:digits?classes=1,7&per_class=30"), folder)
    m = nasoa.adapt(str(folder), 10.0, out=tiny_zoo / "run", learn=False, probe="never")
    assert m["elapsed_s"] <= 10 * 1.05 + 0.5 and m["strategy"] == "nasoa"
    assert json.loads((tiny_zoo / "run" / "manifest.json").read_text())["adapt"]["model"] == m["model"]
    preds = nasoa.predict(tiny_zoo / "run", [folder / "val"])
    assert len(preds) == nasoa.load_task(str(folder)).num_val
    assert {p.folder_class for p in preds} == {"1", "7"}
    right = sum(p.label == p.folder_class for p in preds) / len(preds)
    assert right == pytest.approx(m["val_accuracy"])
    # export_run: the served file labels the val images as predict does
    info = nasoa.export_run(tiny_zoo / "run", fmt="pt2")
    assert info["path"] == str(tiny_zoo / "run" / "export" / "model.pt2") and info["classes"] == ["1", "7"]
    fmt = json.loads((tiny_zoo / "run" / "manifest.json").read_text())["model"]["image_format"]
    files = sorted((folder / "val").rglob("*.png"))
    x = load_images(files, fmt, size=info["input"]["size"]).permute(0, 2, 3, 1).contiguous()
    probs, _ = torch.export.load(info["path"]).module()(x)
    by_path = {p.path: p.label for p in preds}
    assert [info["classes"][i] for i in probs.argmax(1).tolist()] == [by_path[str(f)] for f in files]
    with pytest.raises(nasoa.DataError, match="does not exist"):
        nasoa.adapt(str(tiny_zoo / "nope"), 10.0, learn=False)


@pytest.mark.parametrize("strategy", ["default", "random", "logme", "bohb"])
def test_baseline_strategies_choose(tiny_zoo, strategy):
    r = runner.invoke(app, ["adapt", TASK, "--budget", "20s", "--dry-run", "--json", "--strategy", strategy,
                            "--store", str(tiny_zoo / "exp.sqlite")])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert m["strategy"] == strategy and m["model"] == ("tiny_member" if strategy != "bohb" else "(searched by BOHB)")
    if strategy in ("default", "logme"):
        assert m["regime"]["lr"] == 0.01 and m["regime"]["frozen_stages"] == 0


def test_errors_are_one_line(tiny_zoo, monkeypatch):
    # A machine far slower than measured: "too small" must not hang on how fast this one loads the
    # data (on a fast VM the 6 s budget held the tiny member and the case passed by chance).
    monkeypatch.setenv("NASOA_MACHINE_FACTOR", "1e6")
    store = str(tiny_zoo / "exp.sqlite")
    cases = [
        (["adapt", "builtin:mnist+fashion", "--budget", "6s", "--dry-run", "--store", store], "too small"),
        (["adapt", TASK, "--budget", "20s", "--strategy", "bogus", "--store", store], "unknown strategy"),
        (["adapt", str(tiny_zoo / "missing"), "--budget", "20s", "--store", store], "does not exist"),
        (["adapt", TASK, "--budget", "3s", "--store", store], "at least 6s"),
    ]
    for args, needle in cases:
        r = runner.invoke(app, args)
        lines = [ln for ln in r.output.strip().splitlines() if not ln.startswith("warning:")]
        assert r.exit_code == 2 and len(lines) == 1 and needle in lines[0], (args, r.output)


def test_budget_too_small_names_a_budget_that_works(tiny_zoo, monkeypatch):
    """The error names the smallest whole budget (loading included), and that budget is feasible."""
    import re

    monkeypatch.setenv("NASOA_MACHINE_FACTOR", "40")  # a slow machine, whatever this one is
    store = str(tiny_zoo / "exp.sqlite")
    big = "builtin:fashion?per_class=600"
    r = runner.invoke(app, ["adapt", big, "--budget", "6s", "--dry-run", "--store", store])
    assert r.exit_code == 2 and "too small for every candidate regime" in r.output, r.output
    need = int(re.search(r"pass --budget (\d+)s or more", r.output).group(1))
    assert need > 6
    r = runner.invoke(app, ["adapt", big, "--budget", f"{need}s", "--dry-run", "--store", store, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n_candidates"] >= 1


def test_bohb_strategy_splits_the_budget(tiny_zoo):
    out = tiny_zoo / "bohb"
    t = time.time()
    r = runner.invoke(app, ["adapt", TASK, "--budget", "30s", "--strategy", "bohb", "--store", str(tiny_zoo / "e.sqlite"),
                            "--out", str(out), "--json"])
    wall = time.time() - t
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout.strip().splitlines()[-1])
    assert m["model"] == "tiny_member" and len(m["bohb"]["trials"]) >= 2
    assert m["val_accuracy"] == max(tr["accuracy"] for tr in m["bohb"]["trials"] if tr["accuracy"] == tr["accuracy"])
    assert wall <= 30 * 1.05 + 1.0
    curve = m["bohb"]["curve"]
    assert all(a <= b for (_, a), (_, b) in zip(curve, curve[1:]))  # best-so-far never drops
    assert (out / "model.safetensors").exists() and (out / "manifest.json").exists()
    from nasoa.app.predict import load_run

    model, classes, spec = load_run(out)  # the best trial's model is a usable run dir
    assert len(classes) == 10 and spec["input_size"] == 16


def test_stream_resumes_and_reports(tiny_zoo):
    tasks = tiny_zoo / "tasks.txt"
    tasks.write_text("# two small tasks\nbuiltin:digits?classes=0,1,2&per_class=30 8s\nbuiltin:lfw 8s\n")
    store, out = str(tiny_zoo / "s.sqlite"), tiny_zoo / "stream"
    # The tiny zoo has no practice member: regret against a reference is tested in tests/test_stream.py.
    args = ["stream", str(tasks), "--out", str(out), "--store", store, "--reference", "none", "--json"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["tasks"] == 2 and [row["regret"] for row in res["rows"]] == [None, None]
    assert all(row["recommend_ms"] > 0 for row in res["rows"])
    assert (out / "stream.md").exists() and (out / "stream.png").exists()
    assert _count(store) == 2
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and _count(store) == 2  # resumed: nothing ran again
    bad = tiny_zoo / "bad.txt"
    bad.write_text("builtin:digits\n")
    r = runner.invoke(app, ["stream", str(bad), "--out", str(out), "--store", store])
    assert r.exit_code == 2 and "expected 'DATA BUDGET'" in r.output


# A child `nasoa` process that sees only the tiny zoo (the fixture's monkeypatch does not cross processes).
CHILD = """
import sys
from nasoa.zoo import registry
_user = [x for x in registry.records() if x["origin"] == "user"]
registry.records = lambda include_user=True: [dict(x) for x in _user]
import pathlib
import nasoa.app.experience
nasoa.app.experience.shipped_experience = lambda: pathlib.Path("/nonexistent/experience.parquet")
sys.argv = ["nasoa", *sys.argv[1:]]
from nasoa.cli.main import main
main()
"""


def _spawn(args):
    import os
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-c", CHILD, *args], env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _cached_tasks(store) -> int:
    import sqlite3

    if not store.exists():
        return 0
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT count(*) FROM tasks").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        con.close()


@pytest.mark.parametrize("signame,code,word", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_ctrl_c_during_adapt_keeps_the_store_and_marks_the_run(tiny_zoo, signame, code, word):
    import signal
    import sqlite3

    from nasoa.meta.store import ExperienceStore

    store, out = tiny_zoo / "exp.sqlite", tiny_zoo / "run"
    ExperienceStore(store)  # the schema exists before the child starts
    r = runner.invoke(app, ["adapt", TASK, "--budget", "15s", "--store", str(store), "--out", str(tiny_zoo / "r0")])
    assert r.exit_code == 0, r.output
    assert _count(store) == 1
    proc = _spawn(["adapt", "builtin:digits?per_class=60", "--budget", "60s", "--store", str(store), "--out", str(out)])
    deadline = time.time() + 40
    while _cached_tasks(store) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)  # the task's features are cached just before training starts
    assert _cached_tasks(store) == 2, proc.communicate()
    time.sleep(3.0)  # well inside the training loop
    proc.send_signal(getattr(signal, signame))
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, (stdout, stderr)
    assert stderr.strip().splitlines()[-1] == word and "Traceback" not in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["result"]["stop_reason"] == "interrupted"
    con = sqlite3.connect(store)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    assert _count(store) == 1  # the interrupted run is not recorded; the earlier one is intact


def test_two_adapts_at_once_both_record(tiny_zoo):
    from nasoa.meta.store import ExperienceStore

    store = tiny_zoo / "exp.sqlite"
    procs = [_spawn(["adapt", spec, "--budget", "30s", "--store", str(store), "--out", str(tiny_zoo / f"run{i}"),
                     "--json", "--seed", str(i)])
             for i, spec in enumerate((TASK, "builtin:digits?classes=0,1,2,3&per_class=50"))]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (stdout, stderr) in zip(procs, results):
        assert p.returncode == 0, stderr
        assert json.loads(stdout.strip().splitlines()[-1])["run_id"] > 0
    runs = ExperienceStore(store).runs()
    assert runs.height == 2 and sorted(runs["strategy"].to_list()) == ["nasoa", "nasoa"]
    assert runs["task_id"].n_unique() == 2


# ---- the common-practice baseline (strategy practice) ----------------------------------------------

PRACTICE_TASK = "builtin:digits?classes=0,1&per_class=20"
PRACTICE_REGIME = {"lr": 1e-3, "frozen_stages": 0, "schedule": "cosine", "optimizer": "adamw", "weight_decay": 0.05,
                   "batch_size": 64, "augment": True}


@pytest.fixture()
def shipped_zoo(tmp_path, monkeypatch):
    """The shipped zoo (practice needs its ImageNet MobileNetV2) without user members; stores start empty."""
    import nasoa.app.experience
    import nasoa.core.models as M

    monkeypatch.setenv("NASOA_ZOO_DIR", str(tmp_path / "zoo"))
    M.reset_registry()
    monkeypatch.setattr(nasoa.app.experience, "shipped_experience", lambda: tmp_path / "no-shipped-experience.parquet")
    return tmp_path


def _practice_dry_run(spec, store):
    r = runner.invoke(app, ["adapt", spec, "--budget", "20s", "--strategy", "practice", "--dry-run", "--json",
                            "--store", str(store)])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _assert_practice(m, size):
    assert m["strategy"] == "practice" and m["model"] == "mobilenetv2_imagenet" and m["input_size"] == size
    assert {k: m["regime"][k] for k in PRACTICE_REGIME} == PRACTICE_REGIME
    assert m["predicted_accuracy"] is None  # no predictor was asked


@pytest.mark.parametrize("size,expected", [(16, 32), (48, 48)])
def test_practice_picks_mobilenetv2_full_finetune_adamw_at_the_task_size(shipped_zoo, size, expected):
    """ImageNet MobileNetV2, every stage trained, AdamW 1e-3 / wd 0.05, cosine, at max(task size, 32)."""
    from nasoa.app.adapt import choose
    from nasoa.core.data import load_task

    spec = f"{PRACTICE_TASK}&size={size}"
    store = shipped_zoo / "exp.sqlite"
    _assert_practice(_practice_dry_run(spec, store), expected)
    assert not store.exists()  # a dry run of practice does not even open the store
    c = choose("practice", None, load_task(spec), 20.0)  # no meta-model needed
    assert (c.model_name, c.input_size, c.regime["weight_decay"]) == ("mobilenetv2_imagenet", expected, 0.05)


def test_practice_runs_within_budget_and_ignores_the_store(shipped_zoo, monkeypatch):
    """Same choice with an empty store and with one whose runs and LogME say other members win; it
    never loads the meta-model nor reads the store's runs, yet its run is recorded like any other."""
    from _fake_store import fill_store

    from nasoa.meta.metamodel import MetaModel
    from nasoa.meta.store import ExperienceStore
    from nasoa.app.predict import load_run

    empty = _practice_dry_run(PRACTICE_TASK, shipped_zoo / "empty.sqlite")
    store, out = shipped_zoo / "full.sqlite", shipped_zoo / "run"
    n = fill_store(store, PRACTICE_TASK, {"etnas_z5": 0.99, "efficientnet_lite0_imagenet": 0.97,
                                          "mobilenetv2_imagenet": 0.2},
                   logme={"etnas_z5": 1.0, "efficientnet_lite0_imagenet": 0.5, "mobilenetv2_imagenet": -2.0})
    full = _practice_dry_run(PRACTICE_TASK, store)

    def refuse(*a, **k):
        raise AssertionError("practice must not consult the meta-model or the store's runs")

    with monkeypatch.context() as mp:
        for obj, name in ((MetaModel, "load"), (MetaModel, "fit"), (ExperienceStore, "runs"),
                          (ExperienceStore, "records")):
            mp.setattr(obj, name, refuse)
        t = time.time()
        r = runner.invoke(app, ["adapt", PRACTICE_TASK, "--budget", "12s", "--strategy", "practice", "--store",
                                str(store), "--out", str(out), "--json"])
        wall = time.time() - t
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout.strip().splitlines()[-1])
    for c in (empty, full, m):
        _assert_practice(c, 32)
    assert m["elapsed_s"] <= 12 * 1.05 + 0.5 and wall <= 12 * 1.05 + 1.0, (m["elapsed_s"], wall)
    for f in ("manifest.json", "model.safetensors", "classes.json", "curve.png"):
        assert (out / f).exists(), f
    model, classes, spec = load_run(out)  # what `nasoa predict` loads
    assert spec["input_size"] == 32 and list(spec["mean"]) == [0.485, 0.456, 0.406] and len(classes) == 2
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 2)
    runs = ExperienceStore(store).runs(decode=True)
    assert runs.height == n + 1 and m["run_id"] == runs["id"][-1]
    last = runs.row(runs.height - 1, named=True)
    assert last["strategy"] == "practice" and last["model_name"] == "mobilenetv2_imagenet"
    assert last["extra"]["input_size"] == 32 and last["regime"]["weight_decay"] == 0.05


def test_practice_is_listed_in_the_help():
    r = runner.invoke(app, ["adapt", "--help"], terminal_width=200)
    assert r.exit_code == 0 and "practice" in r.output


def test_probe_always_trains_candidates_records_them_and_continues_the_best(tmp_path):
    """--probe always: two or more members train in slices (recorded as runs of that budget), the
    best continues within the one budget; the continued run is recorded apart and not learned."""
    from nasoa.app.adapt import adapt
    from nasoa.app.probe import pick_winner
    from nasoa.meta.features import training_frame
    from nasoa.meta.store import ExperienceStore

    store = tmp_path / "s.sqlite"
    t0 = time.time()
    m = adapt("builtin:digits?classes=0,1,2&per_class=30", 60.0, store=store, out=tmp_path / "run", probe="always",
              seed=1, progress=False)
    wall = time.time() - t0
    trials = m["probe_trials"]
    assert len(trials) >= 2 and len({t["model"] for t in trials}) == len(trials)
    # the best probe goes on; a lead of one image is a tie for the better-ranked (nasoa.app.probe.pick_winner)
    won = pick_winner([t["val_accuracy"] for t in trials], m["num_val"])
    assert m["probe"]["winner"] == m["model"] == trials[won]["model"]
    assert all(t["elapsed_s"] <= m["probe"]["probe_s"] * 1.05 for t in trials)
    assert wall <= 60.0 * 1.05 and m["elapsed_s"] <= 60.0
    st = ExperienceStore(store)
    runs = st.runs()
    mine = runs.filter(runs["strategy"].is_in(["probe", "nasoa-probed"]))
    assert sorted(mine["strategy"].to_list()) == ["nasoa-probed"] + ["probe"] * len(trials)
    assert all(b == pytest.approx(m["probe"]["probe_s"], abs=0.01)
               for b in mine.filter(mine["strategy"] == "probe")["budget_s"].to_list())
    assert mine.filter(mine["strategy"] == "probe")["run_dir"].null_count() == len(trials)  # probes keep no dir
    assert training_frame(mine.filter(mine["strategy"] == "nasoa-probed")).height == 0
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_a_grid_with_input_sides_offers_imagenet_members_below_64_px(tmp_path):
    """With Grid(input_sizes) the ImageNet members (profiled at 64 px) are candidates at 32, 48 and
    64 px, the ET-NAS members (32 px) at 32 only; the choice carries the side it was made at."""
    from nasoa.app.choose import choose
    from nasoa.app.experience import open_store
    from nasoa.core.data import load_task
    from nasoa.meta.candidates import Grid
    from nasoa.meta.metamodel import MetaModel
    from nasoa.zoo import profiled_records

    mm = MetaModel.load(open_store(tmp_path / "s.sqlite"), zoo=profiled_records())
    mm.grid = Grid(input_sizes=(32, 48, 64))
    task = load_task("builtin:digits?classes=0,1,2&per_class=30")
    frame = mm.candidates(task, 60.0)
    sides = {m: sorted(set(frame.filter(frame["model_name"] == m)["input_size"])) for m in frame["model_name"]}
    assert sides["mobilenetv2_imagenet"] == [32.0, 48.0, 64.0] and sides["etnas_z1"] == [32.0]
    for strategy in ("nasoa", "random"):
        c = choose(strategy, mm, task, 60.0, seed=3)
        assert c.input_size in (32, 48, 64)
        if strategy == "nasoa":
            assert c.input_size == int(c.top[0]["input_size"]) and c.model_name == c.top[0]["model_name"]
    c = choose("default", mm, task, 60.0)
    assert c.input_size == next(r["input_size"] for r in mm.records if r["name"] == c.model_name)


def test_a_grid_may_run_the_imagenet_members_above_64_px_and_the_etnas_members_never_above_32(tmp_path):
    """The ImageNet members were pretrained at 224 px (their records' max_input_size): a grid's sides of 96
    and 128 px are theirs too, at about 2.3x and 4x the step time of 64 px; the ET-NAS members stay at 32."""
    import polars as pl

    from nasoa.app.experience import open_store
    from nasoa.core.data import load_task
    from nasoa.meta.candidates import Grid
    from nasoa.meta.metamodel import MetaModel
    from nasoa.zoo import profiled_records

    mm = MetaModel.load(open_store(tmp_path / "s.sqlite"), zoo=profiled_records())
    mm.grid = Grid(input_sizes=(32, 64, 96, 128))
    # 90 training images: full batches of 64 at every side (a smaller batch saves more at a larger side)
    frame = mm.candidates(load_task("builtin:photos?classes=0,1,2&per_class=30&size=128"), 600.0)
    sides = {m: sorted(set(frame.filter(frame["model_name"] == m)["input_size"])) for m in frame["model_name"]}
    assert sides["mobilenetv2_imagenet"] == sides["efficientnet_lite0_imagenet"] == [32.0, 64.0, 96.0, 128.0]
    assert all(v == [32.0] for m, v in sides.items() if m.startswith("etnas_"))
    full = frame.filter((pl.col("model_name") == "mobilenetv2_imagenet") & (pl.col("frozen_stages") == 0))
    step = {s: full.filter(pl.col("input_size") == s)["step_ms"][0] for s in (64.0, 128.0)}
    assert 4.0 - 1e-9 <= step[128.0] / step[64.0] < 6.0  # at least the square: the pixels' compute
