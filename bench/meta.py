"""How fast is a recommendation? ``bench_recommend(n_candidates=2000)`` times
``MetaModel.recommend`` over at least ``n_candidates`` candidate regimes.

A synthetic zoo (as many members as it takes to reach the candidate count with the default grid:
4 learning rates x 5 frozen settings x 2 schedules x 2 optimizers = 80 per member) and a synthetic
store (40 tasks x 12 runs) stand in for the real ones, which do not change the cost: it is one
candidate frame, one LightGBM call on the whole matrix, and the online part on the shortlist.
Reports the median and the spread over repeats after a warm-up, with provenance.

    python -m nasoa.bench.meta            # or: from nasoa.bench.meta import bench_recommend
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["bench_recommend"]


def bench_recommend(n_candidates: int = 2000, repeats: int = 30, warmup: int = 3, backend: str = "auto",
                    online: str | None = "blend", k: int = 5, seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """Median wall-clock ms of ``MetaModel.recommend(task, budget_s, k)`` over >= n_candidates
    (``online=None``: LightGBM alone, without the river part re-scoring the shortlist)."""
    from nasoa.meta import synthetic
    from nasoa.meta.metamodel import MetaModel
    from nasoa.meta.store import ExperienceStore

    from .provenance import provenance

    per_member = 4 * 5 * 2 * 2
    members = max(2, math.ceil(n_candidates / per_member))
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
        for _ in range(warmup):
            mm.recommend(task, budget_s, k)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            mm.recommend(task, budget_s, k)
            times.append((time.perf_counter() - t) * 1000)
        store.close()
    times.sort()
    q = statistics.quantiles(times, n=10) if len(times) >= 2 else [times[0]] * 9
    out = {
        "bench": "meta.recommend", "candidates": n, "members": members, "k": k, "backend": mm.backend,
        "median_ms": round(statistics.median(times), 2), "p10_ms": round(q[0], 2), "p90_ms": round(q[-1], 2),
        "min_ms": round(times[0], 2), "repeats": repeats, "fit_s": round(fit_s, 2), "provenance": provenance(),
    }
    if verbose:
        print(f"recommend over {n} candidates ({members} members, {mm.backend}): median {out['median_ms']:.1f} ms "
              f"(p10 {out['p10_ms']:.1f}, p90 {out['p90_ms']:.1f}, n={repeats})")
    return out


if __name__ == "__main__":
    bench_recommend()
