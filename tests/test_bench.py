"""The benchmark suites' own logic (their runs are too long for tests; `nasoa bench ...` runs them)."""

import json
import random
from pathlib import Path

from nasoa.bench import budgets, zoo
from nasoa.bench.adapt import task_stream


def _row(model, kind, budget, acc, step):
    return {"model": model, "kind": kind, "budget_s": budget, "test_accuracy": acc, "train_step_ms": step, "params": 1000}


def test_zoo_compare_picks_fastest_matching_member():
    rows = [
        _row("z_fast", "zoo", 60, 0.80, 50.0), _row("z_mid", "zoo", 60, 0.86, 90.0), _row("z_slow", "zoo", 60, 0.90, 200.0),
        _row("base_a", "baseline", 60, 0.85, 450.0), _row("base_b", "baseline", 60, 0.95, 300.0),
        _row("base_c", "baseline", 60, None, 900.0),  # infeasible at this budget
    ]
    out = {c["baseline"]: c for c in zoo.compare(rows)}
    assert out["base_a"]["zoo_member"] == "z_mid" and out["base_a"]["step_time_ratio"] == 5.0
    assert out["base_b"]["zoo_member"] is None and out["base_b"]["best_zoo_accuracy"] == 0.90
    assert "base_c" not in out
    md = zoo.markdown({"provenance": {"date": "d", "cpu": "c", "cpu_cores": 2, "torch_threads": 2, "torch": "t",
                                      "nasoa": "n"}, "regime": {}, "budgets_s": [60], "rows": rows,
                       "ratios": zoo.compare(rows)})
    assert "**5.0x**" in md and "infeasible" in md


def test_budget_runs_are_reproducible_and_in_range():
    def draws(seed: int) -> list[dict]:
        rng = random.Random(seed)  # one generator for the whole sequence, as the suite draws them
        return [budgets.random_run(rng, 6, 60) for _ in range(20)]

    a, b = draws(3), draws(3)
    assert a == b  # the same seed, the same sequence of runs
    assert len({tuple(sorted(r.items())) for r in a}) == len(a)  # and the runs in it differ
    assert draws(4) != a  # another seed, other runs
    rng = random.Random(0)
    for _ in range(50):
        r = budgets.random_run(rng, 6, 60)
        assert 6 <= r["budget_s"] <= 60 and r["data"] in budgets.TASKS and r["model"] in budgets.MODELS


def test_adapt_stream_avoids_the_zoo_source():
    specs = task_stream(12, seed=1)
    assert len(set(specs)) == 12
    assert not any(s.startswith(("builtin:mnist", "builtin:fashion")) for s in specs)


TINY_TASKS = ("builtin:digits?classes=0,1&per_class=20", "builtin:digits?classes=3,5,7&per_class=20")


def _bench(args):
    from typer.testing import CliRunner

    from nasoa.cli.main import app

    return CliRunner().invoke(app, ["bench", "adapt", "--ratio-budgets", "", *args])


def _rows(path):
    import json

    return [json.loads(x) for x in path.read_text().splitlines()]


def test_bench_adapt_resumes_shards_and_reports(tiny_zoo):
    import json

    out = tiny_zoo / "bench"
    args = ["--budgets", "10s", "--task", TINY_TASKS[0], "--task", TINY_TASKS[1], "--strategies", "nasoa,default",
            "--out", str(out)]
    r = _bench([*args, "--shard", "1/2"])
    assert r.exit_code == 0, r.output
    rows = _rows(out / "rows-shard1.jsonl")
    assert {(x["task_index"], x["strategy"]) for x in rows} == {(0, "nasoa"), (0, "default")}
    for x in rows:
        assert 0.0 <= x["test_accuracy"] <= 1.0 and 0.0 <= x["val_accuracy"] <= 1.0 and x["wall_s"] <= 10 * 1.05 + 1
        assert x["epochs"] > 0 and x["input_size"] == 16 and x["model"] == "tiny_member"
    assert next(x for x in rows if x["strategy"] == "nasoa")["planned_epochs"] > 0
    assert not (out / "work" / "t0-10s-nasoa").exists()  # weights and store copies are not kept
    r = _bench([*args, "--shard", "1/2"])  # resumes: nothing runs again
    assert r.exit_code == 0 and "val " not in r.output
    assert len((out / "rows-shard1.jsonl").read_text().splitlines()) == 2
    r = _bench([*args, "--shard", "2/2"])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "adapt.json").read_text())
    assert len(res["rows"]) == 4 and {x["task_index"] for x in res["rows"]} == {0, 1}
    assert {(s["strategy"], s["tasks"]) for s in res["summary"]} == {("nasoa", 2), ("default", 2)}
    assert res["nasoa_minus_baseline"][0]["baseline"] == "default" and res["nasoa_minus_baseline"][0]["tasks"] == 2
    md = (out / "adapt.md").read_text()
    assert (out / "adapt.png").stat().st_size > 1000 and "| 10s |" in md and "nasoa - default" in md
    (out / "adapt.md").unlink()
    r = _bench(["--report-only", "--out", str(out)])
    assert r.exit_code == 0 and (out / "adapt.md").exists()
    for bad in ("3/2", "0/2", "x"):
        r = _bench([*args, "--shard", bad])
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "--shard" in r.output, r.output
    r = _bench(["--strategies", "nasoa,bogus", "--out", str(out)])
    assert r.exit_code == 2 and "unknown strategies bogus" in r.output
    r = _bench(["--tasks-from", str(tiny_zoo / "missing.txt"), "--out", str(out)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "missing.txt" in r.output, r.output


def test_bench_adapt_rows_never_see_each_other(tiny_zoo):
    """The flaw this protocol fixes: rows of a task shared one store, so a later row saw an earlier
    row's run (nasoa learns its own) and its cached LogME. Now every row starts from the same
    snapshot: the same runs, no cached features of the task, its own LogME paid inside its budget."""
    from _fake_store import fill_store

    from nasoa.meta.store import ExperienceStore

    seed = tiny_zoo / "seed.sqlite"
    n = fill_store(seed, TINY_TASKS[1], {"tiny_member": 0.9})  # experience on another task
    tasks = tiny_zoo / "tasks.txt"
    tasks.write_text(f"# held-out\n{TINY_TASKS[0]}\n\n")
    out = tiny_zoo / "bench"
    r = _bench(["--budgets", "8s", "--tasks-from", str(tasks), "--strategies", "nasoa,logme,default",
                "--seed-store", str(seed), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = _rows(out / "rows.jsonl")
    assert [x["strategy"] for x in rows] == ["nasoa", "logme", "default"]
    assert all(x["task"] == TINY_TASKS[0] and "error" not in x for x in rows)
    assert all(x["store_seen"] == {"runs": n, "cached_tasks": 1} for x in rows), [x["store_seen"] for x in rows]
    for x in rows:
        assert x["wall_s"] <= 8 * 1.05 + 1
    for x in rows[:2]:  # nasoa and logme each paid the task's LogME themselves, inside their budget
        assert x["setup_s"]["meta_features"] > 0.01
    assert ExperienceStore(seed).count() == n and ExperienceStore(out / "seed.sqlite").count() == n


def test_bench_adapt_resumes_after_a_torn_line(tiny_zoo):
    """A kill mid-append leaves a torn last line: that row runs again, finished rows do not, and the
    new row is not glued onto the fragment."""
    import json

    out = tiny_zoo / "bench"
    out.mkdir()
    spec = TINY_TASKS[0]
    kept = {"protocol": 2, "task": spec, "task_index": 0, "budget_s": 8.0, "strategy": "default", "model": "kept",
            "regime": {}, "input_size": 16, "val_accuracy": 0.5, "test_accuracy": 0.5, "planned_epochs": 1.0,
            "epochs": 1.0, "wall_s": 1.23}
    torn = json.dumps({**kept, "strategy": "nasoa"})[:40]
    (out / "rows.jsonl").write_text(json.dumps(kept) + "\n" + torn)
    r = _bench(["--budgets", "8s", "--task", spec, "--strategies", "default,nasoa", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = _rows(out / "rows.jsonl")  # every line parses
    assert [(x["strategy"], x["model"]) for x in rows] == [("default", "kept"), ("nasoa", "tiny_member")]
    assert "default" not in [ln.split()[2] for ln in r.output.splitlines() if ln.startswith("task 0")]


SNAPSHOT_SPECS = ["builtin:digits?classes=0,1&seed=1", "builtin:digits-colour?classes=0,1&seed=2",
                  "builtin:textures?classes=0,1&seed=3", "builtin:shapes?classes=0,1&seed=4"]


def _snapshot_source(path):
    """A store of 12 made-up runs on 4 tasks of 3 family lineages (digits twice)."""
    from nasoa.meta.store import ExperienceStore, RunRecord

    src = ExperienceStore(path)
    for i, spec in enumerate(SNAPSHOT_SPECS):
        for j, name in enumerate(("etnas_z1", "etnas_z2", "mobilenetv2_imagenet")):
            src.append(RunRecord(task_id=f"t{i}", task_spec=spec, task_features={"task_num_train": 20.0 + i, "task_num_val": 10.0},
                                 model_name=name, regime={"lr": 0.01, "frozen_stages": 0}, budget_s=10.0,
                                 val_accuracy=0.5 + 0.1 * j))
    src.close()


def test_hold_out_family_snapshot_has_never_seen_the_family(tmp_path):
    """bench adapt --hold-out-family: a task's rows start from a snapshot without its family's runs
    (variants count with their base), whose meta-model was fitted without them."""
    from nasoa.bench.adapt import seed_store
    from nasoa.meta.metamodel import default_model_dir
    from nasoa.meta.store import ExperienceStore

    _snapshot_source(tmp_path / "src.sqlite")
    specs = SNAPSHOT_SPECS
    path = seed_store(tmp_path / "out", tmp_path / "src.sqlite", exclude="digits")
    st = ExperienceStore(path)
    assert path.name == "seed-without-digits.sqlite" and default_model_dir(path).is_dir()
    assert sorted({s for _, s, _ in st.task_list()}) == sorted(specs[2:])
    assert seed_store(tmp_path / "out", tmp_path / "src.sqlite", exclude="digits") == path  # made once
    full = ExperienceStore(seed_store(tmp_path / "out", tmp_path / "src.sqlite"))
    assert full.count() == 12
    # The refit without a family keeps the regime grid of the model it replaces (input sides here).
    from nasoa.meta.candidates import Grid
    from nasoa.meta.metamodel import MetaModel
    from nasoa.zoo import profiled_records

    MetaModel.fit(ExperienceStore(tmp_path / "src.sqlite"), zoo=profiled_records(),
                  grid=Grid(input_sizes=(32, 64))).save(default_model_dir(tmp_path / "src.sqlite"))
    held = seed_store(tmp_path / "sides", tmp_path / "src.sqlite", exclude="textures")
    doc = json.loads((default_model_dir(held) / "metamodel.json").read_text())
    assert doc["grid"]["input_sizes"] == [32, 64] and doc["runs_learned"] == 9


def test_practice_rows_alone_build_no_held_out_snapshot(tmp_path, monkeypatch):
    """bench adapt --hold-out-family with practice alone: practice reads no store, so no held-out
    snapshot (a meta-model fit, minutes on the ship) is built for it; with a strategy that reads the
    meta-model the task's rows start from one."""
    import nasoa.bench.adapt as bench_adapt

    _snapshot_source(tmp_path / "src.sqlite")
    seen = []

    def canned(spec, ti, b, strategy, seed, snapshot, work):
        seen.append((strategy, Path(snapshot).name))
        return {"protocol": 2, "task": spec, "task_index": ti, "budget_s": b, "strategy": strategy, "model": "m",
                "regime": {}, "input_size": 16, "val_accuracy": 0.5, "test_accuracy": 0.5, "planned_epochs": 1.0,
                "epochs": 1.0, "wall_s": 1.0}

    monkeypatch.setattr(bench_adapt, "row_job", canned)
    spec = SNAPSHOT_SPECS[0]
    out = tmp_path / "out"
    args = ["--budgets", "8s", "--task", spec, "--hold-out-family", "--seed-store", str(tmp_path / "src.sqlite"),
            "--out", str(out)]
    r = _bench([*args, "--strategies", "practice"])
    assert r.exit_code == 0, r.output
    assert seen == [("practice", "seed.sqlite")] and not list(out.glob("seed-without-*"))
    r = _bench([*args, "--budgets", "9s", "--strategies", "practice,default"])
    assert r.exit_code == 0, r.output
    assert seen[1:] == [("practice", "seed-without-digits.sqlite"), ("default", "seed-without-digits.sqlite")]


def test_shards_started_together_share_one_snapshot(tmp_path, monkeypatch):
    """Two shards asking for the same held-out snapshot at once: one builds it, the other waits and
    reuses it (both once built it, and the second's move of its model folder failed)."""
    import threading
    import time

    import nasoa.bench.adapt_store as store_mod
    from nasoa.bench.adapt import seed_store
    from nasoa.meta.metamodel import default_model_dir

    _snapshot_source(tmp_path / "src.sqlite")
    fit, fits = store_mod.MetaModel.fit, []

    def slow_fit(*a, **k):  # widens the window in which both shards would build
        fits.append(1)
        time.sleep(0.5)
        return fit(*a, **k)

    monkeypatch.setattr(store_mod.MetaModel, "fit", slow_fit)
    results, errors = [], []

    def shard():
        try:
            results.append(seed_store(tmp_path / "out", tmp_path / "src.sqlite", exclude="digits"))
        except Exception as e:  # noqa: BLE001 - the test reports it
            errors.append(e)

    threads = [threading.Thread(target=shard) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 2 and results[0] == results[1] and default_model_dir(results[0]).is_dir()
    assert len(fits) == 1  # built once


def _stability(args):
    from typer.testing import CliRunner

    from nasoa.cli.main import app

    return CliRunner().invoke(app, ["bench", "stability", *args])


def test_bench_stability_dry_runs_each_seed_from_the_snapshot_and_resumes(tiny_zoo):
    import json

    from nasoa.meta.store import ExperienceStore

    out = tiny_zoo / "stab"
    args = ["--budgets", "10s", "--task", TINY_TASKS[0], "--seeds", "2", "--out", str(out)]
    r = _stability(args)
    assert r.exit_code == 0, r.output
    rows = _rows(out / "stability.jsonl")
    assert [(x["seed_index"], x["seed"]) for x in rows] == [(0, 0), (1, 100)]  # seed 0 = bench adapt's row seed
    assert all(x["model"] == "tiny_member" and x["runner_up"] is None and not x["tied"] for x in rows)
    assert all(x["predicted_accuracy"] is not None and x["transfer"] is not None for x in rows)
    st = ExperienceStore(out / "seed.sqlite")  # dry runs with --no-learn: the snapshot holds no run of them
    assert st.count() == 0
    st.close()
    assert not (out / "work").exists() or not any((out / "work").iterdir())
    r = _stability(args)  # resumes: nothing runs again
    assert r.exit_code == 0 and "seed 0:" not in r.output and len(_rows(out / "stability.jsonl")) == 2
    res = json.loads((out / "stability.json").read_text())
    assert res["summary"] == {"10s": {"cells": 1, "stable": 1, "unstable_but_tied": 0}}
    assert res["cells"][0]["picks"] == ["tiny_member", "tiny_member"] and res["cells"][0]["agree"] == 2
    assert "| 10 s | 1 | 1 | 0 |" in (out / "stability.md").read_text()
    r = _stability(["--seeds", "1", "--task", TINY_TASKS[0], "--out", str(out)])
    assert r.exit_code == 2, r.output
    r = _stability(["--out", str(out)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "--task" in r.output, r.output


def test_stability_report_counts_agreement_and_ties(tmp_path):
    import json

    from nasoa.bench.stability import PROTOCOL, stability_report

    def row(j, model, margin, unc, task=0, budget=30.0):
        return {"protocol": PROTOCOL, "task": f"spec{task}", "task_index": task, "budget_s": budget, "seed_index": j,
                "seed": j, "model": model, "regime": {}, "predicted_accuracy": 0.8, "uncertainty": unc,
                "runner_up": "other", "runner_up_predicted": 0.8 - margin, "margin": margin,
                "tied": margin < unc, "novelty": 0.5, "would_probe": False}

    rows = [row(0, "a", 0.05, 0.01), row(1, "a", 0.05, 0.01), row(2, "a", 0.04, 0.01), row(3, "a", 0.05, 0.01),
            row(4, "b", 0.02, 0.01),  # 4 of 5: stable
            *[row(j, "a" if j < 3 else "b", 0.01, 0.05, task=1) for j in range(5)],  # 3 of 5, every deviation tied
            *[row(j, "a" if j < 3 else "b", 0.10, 0.05, task=2) for j in range(4)],
            {"protocol": PROTOCOL, "task": "spec2", "task_index": 2, "budget_s": 30.0, "seed_index": 4, "seed": 4,
             "error": "a budget of 30s is too small"}]
    (tmp_path / "stability-shard1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:5]))
    (tmp_path / "stability-shard2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[5:]))
    res = stability_report(tmp_path)
    cells = {c["task_index"]: c for c in res["cells"]}
    assert (cells[0]["agree"], cells[0]["stable"], cells[0]["deviations_tied"]) == (4, True, False)
    assert (cells[1]["agree"], cells[1]["stable"], cells[1]["deviations_tied"], cells[1]["tied"]) == (3, False, True, 5)
    assert (cells[2]["agree"], cells[2]["stable"], cells[2]["errors"], cells[2]["deviations_tied"]) == (3, False, 1, False)
    assert cells[2]["picks"] == ["a", "a", "a", "b", None]
    assert res["summary"] == {"30s": {"cells": 3, "stable": 1, "unstable_but_tied": 1}}
    md = (tmp_path / "stability.md").read_text()
    assert "| 30 s | 3 | 1 | 1 |" in md and "a, a, a, b, error" in md


def _noise_row(tid, y, y_rep, share=1.0, share_rep=1.0, budget=30.0, lr=0.01, epochs_rep=10.2):
    return {"protocol": 2, "uid": f"{tid}-{y}-{y_rep}", "task_id": tid, "task": f"builtin:{tid}",
            "family": "digits", "model": "m", "regime": {"lr": lr}, "budget_s": budget, "y": y, "y_rep": y_rep,
            "cpu_share": share, "cpu_share_rep": share_rep, "epochs": 10.0, "epochs_rep": epochs_rep}


def test_noise_report_measures_the_noise_and_the_oracle_regret(tmp_path):
    """The noise sd is sqrt(mean(d^2)/2) over clean pairs; the oracle picks by one outcome and is
    scored on the other (both ways, halved); a starved pair, or one whose replicate ran other epochs,
    is left out; an unfinished task is not scored."""
    from nasoa.bench.noise import noise_report

    rows = [_noise_row("a", 0.5, 0.6), _noise_row("a", 0.8, 0.7), _noise_row("a", 0.7, 0.75, lr=0.1),
            _noise_row("a", 0.95, 0.2, share_rep=0.4),  # starved replicate: not a clean pair
            _noise_row("a", 0.96, 0.3, epochs_rep=12.0),  # ran 20% more epochs: not a clean pair
            _noise_row("b", 0.5, 0.5), _noise_row("b", 0.6, 0.6), _noise_row("b", 0.7, 0.7)]
    (tmp_path / "selection.json").write_text(json.dumps({"store": "s", "tasks": ["a", "b"], "runs": {"a": 5, "b": 4}}))
    with open(tmp_path / "noise.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    res = noise_report(tmp_path)
    s = res["summary"]
    assert s["pairs_clean"] == 6 and s["pairs_left_out"] == 2 and s["pairs_left_out_epochs"] == 1
    assert abs(s["noise_sd"] - round((0.0225 / 12) ** 0.5, 4)) < 1e-4  # d = .1, -.1, .05, 0, 0, 0
    assert s["by_group"]["lr >= 0.03"]["pairs"] == 1 and s["by_group"]["lr < 0.03"]["pairs"] == 5
    # Task b has 3 of its 4 runs: not finished, not scored. Task a: (0.75 - 0.7 + 0.8 - 0.7) / 2.
    assert s["tasks_complete"] == 1 and abs(s["oracle_regret_mean"] - 0.075) < 1e-9
    assert "oracle regret mean **0.075**" in (tmp_path / "noise.md").read_text()


def test_noise_selects_tasks_by_family_at_random():
    from nasoa.bench.noise import replicate_seed, select_tasks
    from nasoa.meta.store import RunRecord

    recs = [RunRecord(task_id=f"{fam}{t}", model_name="m", regime={}, budget_s=8.0, val_accuracy=0.5,
                      task_spec=f"builtin:{fam}", extra={"family": fam})
            for fam in ("textures", "noise") for t in range(4) for _ in range(3 if t else 1)]
    picks = select_tasks(recs, 2, seed=0, min_runs=2)
    assert len(picks) == 4 and len(set(picks)) == 4
    assert [p[:-1] for p in picks[:2]] == ["noise", "textures"]  # interleaved across families
    assert "textures0" not in picks and "noise0" not in picks  # one run: below min_runs
    assert select_tasks(recs, 2, seed=0, min_runs=2) == picks and select_tasks(recs, 2, seed=1, min_runs=2) != picks
    assert replicate_seed(0, "u", 5) == replicate_seed(0, "u", 5) != replicate_seed(1, "u", 5)
    s = replicate_seed(0, "u", 5)
    assert replicate_seed(0, "u", s) != s  # never the original run's seed


def test_noise_replicates_collected_runs_and_resumes(tmp_path):
    """Real runs: a tiny collection, each run replicated once with a fresh seed for the epochs it
    ran; a re-run has nothing left to do."""
    from dataclasses import replace

    import pytest

    from nasoa.app.collect import CollectConfig, collect
    from nasoa.bench.noise import run_noise
    from nasoa.core.errors import NasoaError
    from nasoa.meta.store import ExperienceStore

    from _fake_store import tiny_member

    rec = tiny_member()
    cfg = CollectConfig(runs=3, seed=1, budgets=(2.5,), runs_per_task=3, sources=("digits",), per_class=(10,),
                        max_classes=3, logme_images=40, pretrained=False)
    st = ExperienceStore(tmp_path / "s.sqlite")
    collect(cfg, st, records=[rec])
    runs = st.records()
    assert len(runs) >= 2
    out = tmp_path / "noise"
    logged = []
    res = run_noise(out, tmp_path / "s.sqlite", per_family=1, seed=0, min_runs=2, pretrained=False, records=[rec],
                    log=logged.append)
    rows = [json.loads(x) for x in (out / "noise.jsonl").read_text().splitlines()]
    assert sorted(r["uid"] for r in rows) == sorted(r.uid for r in runs)
    by_uid = {r.uid: r for r in runs}
    for r in rows:
        assert "error" not in r and 0 <= r["y_rep"] <= 1 and r["replicate_seed"] != by_uid[r["uid"]].seed
        assert r["y"] == by_uid[r["uid"]].val_accuracy and r["budget_s"] == 2.5
        assert abs(r["epochs_rep"] - r["epochs"]) <= 0.05 * r["epochs"]  # the original's epochs, not the budget's
    s = res["summary"]
    assert s["rows"] == len(runs) and s["pairs_clean"] + s["pairs_left_out"] == len(runs)
    assert len(logged) == len(runs)
    # The store grows (another task of the family): the resume keeps its selection, nothing runs again.
    collect(replace(cfg, seed=2), st, records=[rec])
    run_noise(out, tmp_path / "s.sqlite", per_family=1, seed=0, min_runs=2, pretrained=False, records=[rec],
              log=logged.append)
    assert len(logged) == len(runs) and len((out / "noise.jsonl").read_text().splitlines()) == len(runs)
    with pytest.raises(NasoaError, match="started with other options"):
        run_noise(out, tmp_path / "s.sqlite", per_family=2, seed=0, min_runs=2, pretrained=False, records=[rec])


def test_bench_noise_cli_names_a_missing_store(tmp_path):
    from typer.testing import CliRunner

    from nasoa.cli.main import app

    r = CliRunner().invoke(app, ["bench", "noise", "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "--store is required" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["bench", "noise", "--store", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "no experience store at" in r.output and not (tmp_path / "none.sqlite").exists()
