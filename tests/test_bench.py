"""The benchmark suites' own logic (their runs are too long for tests; `nasoa bench ...` runs them)."""

import json
import random

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


def test_hold_out_family_snapshot_has_never_seen_the_family(tmp_path):
    """bench adapt --hold-out-family: a task's rows start from a snapshot without its family's runs
    (variants count with their base), whose meta-model was fitted without them."""
    from nasoa.bench.adapt import seed_store
    from nasoa.meta.metamodel import default_model_dir
    from nasoa.meta.store import ExperienceStore, RunRecord

    src = ExperienceStore(tmp_path / "src.sqlite")
    specs = ["builtin:digits?classes=0,1&seed=1", "builtin:digits-colour?classes=0,1&seed=2",
             "builtin:textures?classes=0,1&seed=3", "builtin:shapes?classes=0,1&seed=4"]
    for i, spec in enumerate(specs):
        for j, name in enumerate(("etnas_z1", "etnas_z2", "mobilenetv2_imagenet")):
            src.append(RunRecord(task_id=f"t{i}", task_spec=spec, task_features={"task_num_train": 20.0 + i, "task_num_val": 10.0},
                                 model_name=name, regime={"lr": 0.01, "frozen_stages": 0}, budget_s=10.0,
                                 val_accuracy=0.5 + 0.1 * j))
    src.close()
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
