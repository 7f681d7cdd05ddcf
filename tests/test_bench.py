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
