"""The benchmark suites' own logic (their runs are too long for tests; `nasoa bench ...` runs them)."""

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
    a = [budgets.random_run(random.Random(3), 6, 60) for _ in range(1)]
    b = [budgets.random_run(random.Random(3), 6, 60) for _ in range(1)]
    assert a == b
    rng = random.Random(0)
    for _ in range(50):
        r = budgets.random_run(rng, 6, 60)
        assert 6 <= r["budget_s"] <= 60 and r["data"] in budgets.TASKS and r["model"] in budgets.MODELS


def test_adapt_stream_avoids_the_zoo_source():
    specs = task_stream(12, seed=1)
    assert len(set(specs)) == 12
    assert not any(s.startswith(("builtin:mnist", "builtin:fashion")) for s in specs)


def test_bench_adapt_resumes_shards_and_reports(tiny_zoo):
    import json

    from typer.testing import CliRunner

    from nasoa.cli.main import app

    runner = CliRunner()
    out = tiny_zoo / "bench"
    args = ["bench", "adapt", "--budgets", "30s", "--tasks", "2", "--strategies", "nasoa,default", "--ratio-budgets", "",
            "--out", str(out)]
    r = runner.invoke(app, [*args, "--shard", "1/2"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in (out / "rows-shard1.jsonl").read_text().splitlines()]
    assert {(x["task_index"], x["strategy"]) for x in rows} == {(0, "nasoa"), (0, "default")}
    for x in rows:
        assert 0.0 <= x["test_accuracy"] <= 1.0 and 0.0 <= x["val_accuracy"] <= 1.0 and x["wall_s"] <= 30 * 1.05 + 1
    assert not (out / "runs" / "t0-30-nasoa").exists()  # weights are not kept
    r = runner.invoke(app, [*args, "--shard", "1/2"])  # resumes: nothing runs again
    assert r.exit_code == 0 and "val " not in r.output
    assert len((out / "rows-shard1.jsonl").read_text().splitlines()) == 2
    r = runner.invoke(app, [*args, "--shard", "2/2"])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "adapt.json").read_text())
    assert len(res["rows"]) == 4 and {x["task_index"] for x in res["rows"]} == {0, 1}
    assert {(s["strategy"], s["tasks"]) for s in res["summary"]} == {("nasoa", 2), ("default", 2)}
    assert res["nasoa_minus_baseline"][0]["baseline"] == "default" and res["nasoa_minus_baseline"][0]["tasks"] == 2
    assert (out / "adapt.png").stat().st_size > 1000 and "| 30s |" in (out / "adapt.md").read_text()
    (out / "adapt.md").unlink()
    assert runner.invoke(app, ["bench", "adapt", "--report-only", "--out", str(out)]).exit_code == 0
    assert (out / "adapt.md").exists()
    for bad in ("3/2", "0/2", "x"):
        r = runner.invoke(app, [*args, "--shard", bad])
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "--shard" in r.output, r.output
    r = runner.invoke(app, ["bench", "adapt", "--strategies", "nasoa,bogus", "--out", str(out)])
    assert r.exit_code == 2 and "unknown strategies bogus" in r.output
