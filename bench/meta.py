"""How fast is the meta-model in a user's budget? ``bench_meta(runs=10_000)`` times, on a synthetic
store of ``runs`` runs:

* **load**: ``MetaModel.load(store)`` with its snapshot current (what ``nasoa adapt`` pays before it
  ranks), and with a backlog of 25 runs appended after the snapshot (caught up run by run);
* **rank**: ``MetaModel.recommend(task, budget_s, k)`` over at least ``candidates`` regimes;
* **learn**: ``MetaModel.learn(run)`` after a run (store append, predictor update, snapshot write:
  what the post-training reserve pays), over ``repeats`` consecutive runs (warm starts included);
* the full LightGBM refit on every run (left out of budgets above ``inline_refit_rows``);
* the imports a fresh process pays once (lightgbm, river, polars), in a child process.

Each timing is the median (with p10/p90, min, max) of ``repeats`` after a warm-up, on one core
(the process pins itself to the first core it may use). A synthetic zoo (as many members as it
takes to reach the candidate count with the default grid: 4 learning rates x 5 frozen settings x 2
schedules x 2 optimizers = 80 per member) and synthetic runs (12 per task) stand in for the real
ones: the costs depend on the counts, not on the values.

    nasoa bench meta --runs 10000
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasoa.meta import synthetic
from nasoa.meta.metamodel import MetaModel, default_model_dir
from nasoa.meta.store import ExperienceStore

from .provenance import fields, provenance

__all__ = ["bench_meta", "bench_recommend", "to_markdown", "IMPORTS"]

# What a fresh process imports to load the meta-model (a constant cost, whatever the store).
IMPORTS = "import polars, lightgbm, river.forest, river.compose, river.preprocessing"
PER_MEMBER = 4 * 5 * 2 * 2
BACKLOG = 25


def _stats(times_ms: list[float], cpu_ms: list[float] | None = None) -> dict[str, float]:
    t = sorted(times_ms)
    q = statistics.quantiles(t, n=10) if len(t) >= 2 else [t[0]] * 9
    out = {"median_ms": round(statistics.median(t), 2), "p10_ms": round(q[0], 2), "p90_ms": round(q[-1], 2),
           "min_ms": round(t[0], 2), "max_ms": round(t[-1], 2), "n": len(t)}
    if cpu_ms:
        # CPU time of this process: what the work costs when the core is not shared with others.
        out["cpu_median_ms"] = round(statistics.median(cpu_ms), 2)
        out["cpu_max_ms"] = round(max(cpu_ms), 2)
    return out


def _timed(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Wall-clock and CPU-time statistics of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return _stats(wall, cpu)


def _pin_one_core() -> tuple[int | None, set[int] | None]:
    """Pin this process to the first core it may run on (the timings are one core's); returns that
    core and the cores it could use before (to restore)."""
    try:
        before = set(os.sched_getaffinity(0))
        core = min(before)
        os.sched_setaffinity(0, {core})
        return core, before
    except (AttributeError, OSError):
        return None, None


def _cold_imports(repeats: int = 3) -> dict[str, float]:
    code = f"import time; t = time.perf_counter(); {IMPORTS}; print(time.perf_counter() - t)"
    out = []
    for _ in range(repeats):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out.append(float(r.stdout.strip().splitlines()[-1]) * 1000)
    return _stats(out)


def bench_meta(runs: int = 10_000, candidates: int = 2000, repeats: int = 20, k: int = 5, seed: int = 0,
               import_repeats: int = 3, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Load, rank and learn timings of the default meta-model on a synthetic store of ``runs`` runs
    (``import_repeats`` fresh processes time the imports; 0 skips them)."""
    say = log or (lambda s: None)
    core, affinity = _pin_one_core()
    try:
        return _bench_meta(runs, candidates, repeats, k, seed, import_repeats, core, say)
    finally:
        if affinity:
            os.sched_setaffinity(0, affinity)


def _bench_meta(runs: int, candidates: int, repeats: int, k: int, seed: int, import_repeats: int, core: int | None,
                say: Callable[[str], None]) -> dict[str, Any]:
    members = max(2, math.ceil(candidates / PER_MEMBER))
    zoo = synthetic.synthetic_zoo(members, seed=seed)
    n_tasks = math.ceil(runs / 12)
    out: dict[str, Any] = {"bench": "meta.online", "runs": runs, "members": members, "k": k, "repeats": repeats,
                           "core": core}
    with tempfile.TemporaryDirectory() as d:
        store = ExperienceStore(Path(d) / "bench.sqlite")
        records = synthetic.synthetic_runs(zoo, n_tasks, 12, seed=seed)[:runs]
        store.append_many(records)
        say(f"store: {store.count()} runs on {n_tasks} tasks, {members} members")
        t = time.perf_counter()
        mm = MetaModel.load(store, zoo=zoo, seed=seed)  # fits (auto back-end) and writes the snapshot
        out["fit_s"] = round(time.perf_counter() - t, 2)
        out["backend"] = mm.backend
        say(f"fitted {mm.backend} in {out['fit_s']} s")

        out["load"] = _timed(lambda: MetaModel.load(store, zoo=zoo, seed=seed), repeats)
        say(f"load (snapshot current): median {out['load']['median_ms']} ms")

        mdir = default_model_dir(store.path)
        store.append_many(synthetic.synthetic_runs(zoo, 3, 12, seed=seed + 1, task_offset=n_tasks)[:BACKLOG])
        # An explicit model_dir is never written back: every load catches up the same backlog.
        backlog = _timed(lambda: MetaModel.load(store, model_dir=mdir, zoo=zoo, seed=seed), repeats)
        out["load_backlog"] = {**backlog, "backlog_runs": BACKLOG}
        say(f"load with {BACKLOG} runs to catch up: median {out['load_backlog']['median_ms']} ms")

        mm = MetaModel.load(store, zoo=zoo, seed=seed)  # catches up the backlog and saves
        task = synthetic.synthetic_task_features(10 ** 6, seed, zoo)
        budget_s = 600.0  # every candidate feasible
        out["candidates"] = mm.candidates(task, budget_s).height
        out["rank"] = _timed(lambda: mm.recommend(task, budget_s, k), repeats, warmup=3)
        say(f"rank {out['candidates']} candidates: median {out['rank']['median_ms']} ms")

        new = synthetic.synthetic_runs(zoo, math.ceil(repeats / 12) + 1, 12, seed=seed + 2,
                                       task_offset=n_tasks + 10)[:repeats]
        p = mm.predictor
        warm0 = getattr(getattr(p, "base", None), "n_warm", 0)
        learn, learn_cpu = [], []
        for rec in new:
            t, c = time.perf_counter(), time.process_time()
            mm.learn(rec)
            learn.append((time.perf_counter() - t) * 1000)
            learn_cpu.append((time.process_time() - c) * 1000)
        out["learn"] = {**_stats(learn, learn_cpu),
                        "warm_updates": getattr(getattr(p, "base", None), "n_warm", 0) - warm0}
        say(f"learn (append, update, snapshot): median {out['learn']['median_ms']} ms, max {out['learn']['max_ms']}")

        if hasattr(p, "refit"):
            t = time.perf_counter()
            p.refit()
            out["full_refit_s"] = round(time.perf_counter() - t, 3)
            say(f"full refit on {p.n_seen} runs: {out['full_refit_s']} s")
        out["online_state"] = mm.online_state()
        store.close()
    if import_repeats:
        out["cold_imports"] = _cold_imports(import_repeats)
        say(f"imports in a fresh process: median {out['cold_imports']['median_ms']} ms")
    out["loadavg"] = os.getloadavg()
    out["provenance"] = provenance()
    return out


def to_markdown(results: list[dict[str, Any]], command: str) -> str:
    """A table of :func:`bench_meta` results (one row per store size) with provenance and command."""
    p = fields(results[0]["provenance"])
    git = p.get("git") or {}
    lines = [
        "# Meta-model cost in a user's budget: load, rank, learn", "",
        f"Measured {p['date']} on {p['cpu']} ({p['cpu_cores']} cores; pinned to core {results[0]['core']}), "
        f"Python {p['python']}, nasoa {p['nasoa']} (commit {str(git.get('commit'))[:10]}"
        f"{', dirty' if git.get('dirty') else ''}).", "",
        f"Command: `{command}`", "",
        "Wall-clock median of the repeats (p10-p90), then the process's CPU time (median): the cost on a core "
        "nobody else uses (the wall clock includes time the core spent on other processes; load average "
        "in the last column). load: `MetaModel.load` with the snapshot current; load +25: with "
        f"{BACKLOG} runs to catch up; rank: `recommend` over the candidates; learn: `MetaModel.learn` of "
        "one run (store append, predictor update, snapshot write), median and max.", "",
        "| runs | back-end | candidates | load ms | load +25 ms | rank ms | learn ms (max) | full refit s | "
        "fit s | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        def cell(key: str) -> str:
            s = r[key]
            return f"{s['median_ms']} ({s['p10_ms']}-{s['p90_ms']}); cpu {s.get('cpu_median_ms')}"

        ln = r["learn"]
        lines.append(f"| {r['runs']} | {r['backend']} | {r['candidates']} | {cell('load')} | {cell('load_backlog')} | "
                     f"{cell('rank')} | {ln['median_ms']} ({ln['max_ms']}); cpu {ln.get('cpu_median_ms')} "
                     f"({ln.get('cpu_max_ms')}) | {r.get('full_refit_s')} | {r['fit_s']} | "
                     f"{' '.join(f'{v:.1f}' for v in r.get('loadavg', ()))} |")
    ci = results[0].get("cold_imports")
    if ci:
        lines += ["", f"A fresh process also imports lightgbm, river and polars once: median {ci['median_ms']} ms "
                      f"(`{IMPORTS}`), whatever the store's size."]
    return "\n".join(lines) + "\n"


def bench_recommend(n_candidates: int = 2000, repeats: int = 30, warmup: int = 3, backend: str = "auto",
                    online: str | None = "blend", k: int = 5, seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """Median wall-clock ms of ``MetaModel.recommend(task, budget_s, k)`` over >= n_candidates on a
    model fitted on 40 synthetic tasks x 12 runs (``online=None``: LightGBM alone)."""
    members = max(2, math.ceil(n_candidates / PER_MEMBER))
    zoo = synthetic.synthetic_zoo(members, seed=seed)
    with tempfile.TemporaryDirectory() as d:
        store = ExperienceStore(Path(d) / "bench.sqlite")
        store.append_many(synthetic.synthetic_runs(zoo, 40, 12, seed=seed))
        t = time.perf_counter()
        mm = MetaModel.fit(store, zoo=zoo, seed=seed, backend=backend, online=online)
        fit_s = time.perf_counter() - t
        task = synthetic.synthetic_task_features(10_000, seed, zoo)
        budget_s = 600.0  # every candidate feasible
        n = mm.candidates(task, budget_s).height
        s = _timed(lambda: mm.recommend(task, budget_s, k), repeats, warmup)
        store.close()
    out = {"bench": "meta.recommend", "candidates": n, "members": members, "k": k, "backend": mm.backend,
           **{key: s[key] for key in ("median_ms", "p10_ms", "p90_ms", "min_ms")}, "repeats": repeats,
           "fit_s": round(fit_s, 2), "provenance": provenance()}
    if verbose:
        print(f"recommend over {n} candidates ({members} members, {mm.backend}): median {out['median_ms']:.1f} ms "
              f"(p10 {out['p10_ms']:.1f}, p90 {out['p90_ms']:.1f}, n={repeats})")
    return out

