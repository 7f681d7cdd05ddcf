"""``nasoa bench adapt``: every strategy of ``nasoa adapt`` on one stream of tasks, side by side.

For each task (cut from the built-in sources, seeded) and each budget, the one-shot strategies
(``nasoa``, ``default``, ``random``, ``logme``) and ``bohb`` run under the same wall-clock budget;
``nasoa`` learns online along the stream (in a copy of the shipped experience), the baselines do
not. Then, for the budgets listed in ``ratio_budgets``, BOHB runs again with ``bohb_multiple`` times
the budget and we read how much compute it needed to reach the accuracy ``nasoa`` reached in one
shot: our analogue of NASOA's "40x less compute than BOHB".
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Callable

ONE_SHOT = ("nasoa", "default", "random", "logme")


def task_stream(n: int, seed: int = 0) -> list[str]:
    """``n`` task specs cut from the built-ins outside the zoo's source (MNIST and Fashion-MNIST, and
    MNIST-5k, a subset of MNIST train, are the zoo's pretraining data, so never downstream tasks)."""
    import numpy as np

    rng = np.random.default_rng([seed, 7])
    pools = [("animal", 10, (60, 400)), ("digits", 10, (30, 110)), ("animal", 10, (20, 80))]
    out = []
    for i in range(n):
        name, k, (lo, hi) = pools[i % len(pools)]
        n_cls = int(rng.integers(3, k + 1))
        classes = sorted(rng.choice(k, size=n_cls, replace=False).tolist())
        out.append(f"builtin:{name}?classes={','.join(map(str, classes))}&per_class={int(rng.integers(lo, hi))}"
                   f"&seed={int(rng.integers(1 << 30))}")
    return out


def run(out: Path, budgets: tuple[float, ...] = (30.0, 90.0, 300.0), n_tasks: int = 6, seed: int = 0,
        ratio_budgets: tuple[float, ...] = (30.0,), bohb_multiple: int = 8, log: Callable[[str], None] = print,
        ) -> dict[str, Any]:
    from nasoa.adapt import adapt, open_store
    from nasoa.bohb import bohb_search
    from nasoa.data import load_task
    from nasoa.meta.metamodel import MetaModel

    from .provenance import provenance

    out.mkdir(parents=True, exist_ok=True)
    store = out / "experience.sqlite"
    if not store.exists():
        open_store(store)  # seeded with the shipped experience
    rows: list[dict[str, Any]] = []
    ratios: list[dict[str, Any]] = []
    for ti, spec in enumerate(task_stream(n_tasks, seed)):
        for b in budgets:
            accs: dict[str, float] = {}
            for strategy in (*ONE_SHOT, "bohb"):
                run_dir = out / "runs" / f"t{ti}-{int(b)}-{strategy}"
                t = time.time()
                m = adapt(spec, b, strategy=strategy, seed=seed + ti, store=store, out=run_dir, start_time=t,
                          learn=strategy == "nasoa", progress=False)
                wall = time.time() - t
                accs[strategy] = m["val_accuracy"]
                rows.append({"task": spec, "task_index": ti, "budget_s": b, "strategy": strategy, "model": m["model"],
                             "regime": m["regime"], "val_accuracy": m["val_accuracy"],
                             "predicted_accuracy": m.get("predicted_accuracy"), "wall_s": round(wall, 2)})
                shutil.rmtree(run_dir, ignore_errors=True)  # weights are not results
                log(f"task {ti} {b:g}s {strategy:8s} {m['model']:<28} acc {m['val_accuracy']:.4f} ({wall:.1f}s)")
            if b in ratio_budgets:
                mm = MetaModel.load(store, seed=seed)
                task = load_task(spec, seed=seed + ti)
                res = bohb_search(mm, task, b * bohb_multiple, seed=seed + ti)
                need = res.compute_to_reach(accs["nasoa"])
                ratios.append({"task": spec, "budget_s": b, "nasoa_accuracy": accs["nasoa"],
                               "bohb_best": res.best_accuracy, "bohb_compute_s": res.compute_s,
                               "bohb_compute_to_reach_s": need,
                               "ratio": round(need / b, 2) if need is not None else None,
                               "ratio_lower_bound": None if need is not None else round(res.compute_s / b, 2)})
                log(f"task {ti} {b:g}s: BOHB reached nasoa's {accs['nasoa']:.4f} after "
                    + (f"{need:.0f}s ({need / b:.1f}x)" if need is not None else f"never in {res.compute_s:.0f}s"))
    summary = []
    for b in budgets:
        for s in (*ONE_SHOT, "bohb"):
            accs = [r["val_accuracy"] for r in rows if r["budget_s"] == b and r["strategy"] == s]
            if accs:
                summary.append({"budget_s": b, "strategy": s, "mean_accuracy": statistics.mean(accs), "tasks": len(accs)})
    result = {"suite": "adapt", "provenance": provenance(), "seed": seed, "budgets_s": list(budgets), "rows": rows,
              "summary": summary, "bohb_ratio": ratios, "bohb_multiple": bohb_multiple}
    (out / "adapt.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    p = result["provenance"]
    lines = [f"# nasoa adapt vs baselines on {n_tasks} tasks", "",
             f"Measured {p['date']} on {p['cpu']} ({p['cpu_cores']} cores), torch {p['torch']}, nasoa {p['nasoa']}.", "",
             "| budget | " + " | ".join((*ONE_SHOT, "bohb")) + " |", "|---|" + "---|" * (len(ONE_SHOT) + 1)]
    for b in budgets:
        cells = [next((f"{x['mean_accuracy']:.4f}" for x in summary if x["budget_s"] == b and x["strategy"] == s), "-")
                 for s in (*ONE_SHOT, "bohb")]
        lines.append(f"| {b:g}s | " + " | ".join(cells) + " |")
    if ratios:
        lines += ["", "## Compute BOHB needs to reach nasoa's one-shot accuracy", "",
                  "| task | budget | nasoa acc | BOHB best | BOHB compute to reach | ratio |", "|---|---|---|---|---|---|"]
        for r in ratios:
            reach = f"{r['bohb_compute_to_reach_s']:.0f}s" if r["ratio"] is not None else f"not in {r['bohb_compute_s']:.0f}s"
            ratio = f"{r['ratio']}x" if r["ratio"] is not None else f"> {r['ratio_lower_bound']}x"
            lines.append(f"| `{r['task']}` | {r['budget_s']:g}s | {r['nasoa_accuracy']:.4f} | {r['bohb_best']:.4f} | "
                         f"{reach} | {ratio} |")
    (out / "adapt.md").write_text("\n".join(lines) + "\n")
    return result
