"""``nasoa bench adapt``: every strategy of ``nasoa adapt`` on one stream of tasks, side by side.

For each task (cut from the built-in sources, seeded) and each budget, the one-shot strategies
(``nasoa``, ``default``, ``random``, ``logme``) and ``bohb`` run under the same wall-clock budget;
``nasoa`` learns online along the stream (in the bench's own copy of the shipped experience), the
baselines do not. Every strategy is judged on the task's held-out **test** split (never seen while
choosing or training; BOHB even selects its best trial on validation accuracy, an optimistic
bias), evaluated after the budgeted command returns. Then, for the budgets in ``ratio_budgets``,
BOHB runs again with ``bohb_multiple`` times the budget, and we read how much compute it needed to
reach the validation accuracy ``nasoa`` reached in one shot: our analogue of NASOA's "40x less
compute than BOHB".

Hours of CPU, so: every finished row is appended at once to ``rows[-shardK].jsonl`` and a re-run
skips what is there (Ctrl-C loses at most the row in progress); ``shard=(K, N)`` runs the tasks
with ``index % N == K - 1`` in its own store, so N pinned processes can share a machine; the
report (``adapt.json``, ``adapt.md``, ``adapt.png``) merges every row file in the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from nasoa.errors import NasoaError

ONE_SHOT = ("nasoa", "default", "random", "logme")
STRATEGIES = (*ONE_SHOT, "bohb")


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


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise NasoaError(f"--shard {text!r} is not K/N (e.g. 1/2)") from None
    if not 1 <= k <= n:
        raise NasoaError(f"--shard {text!r} needs 1 <= K <= N (e.g. 1/2 and 2/2 for two processes)")
    return k, n


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line cut short by a kill: that row is simply run again
            continue
    return out


def _append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def test_accuracy(run_dir: Path, spec: str, seed: int) -> float:
    """Accuracy of a run dir's fine-tuned model on the task's held-out test split."""
    from nasoa.data import Batches, load_test
    from nasoa.predict import load_run
    from nasoa.train import evaluate

    model, classes, mspec = load_run(run_dir)
    test = load_test(spec, seed=seed).resized(int(mspec["input_size"]))
    if list(test.classes) != list(classes):
        raise NasoaError(f"the test split of {spec} has other classes than the run in {run_dir}")
    batches = Batches(test.x_val, test.y_val, batch_size=256, shuffle=False, augment=False,
                      mean=tuple(mspec.get("mean", (0.5,) * 3)), std=tuple(mspec.get("std", (0.5,) * 3)), channels=3)
    return evaluate(model, batches.epoch(0), "cpu")[0]


def run(out: Path, budgets: tuple[float, ...] = (30.0, 90.0, 300.0), n_tasks: int = 6, seed: int = 0,
        ratio_budgets: tuple[float, ...] = (30.0,), bohb_multiple: int = 8, strategies: tuple[str, ...] = STRATEGIES,
        shard: tuple[int, int] = (1, 1), log: Callable[[str], None] = print) -> dict[str, Any]:
    from nasoa.adapt import adapt, open_store
    from nasoa.bohb import bohb_search
    from nasoa.data import load_task
    from nasoa.meta.metamodel import MetaModel

    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise NasoaError(f"unknown strategies {', '.join(unknown) or '(none given)'}; choose from {', '.join(STRATEGIES)}")
    k, n = shard
    out.mkdir(parents=True, exist_ok=True)
    tag = f"-shard{k}" if n > 1 else ""
    store = out / f"experience{tag}.sqlite"
    rows_file, ratios_file = out / f"rows{tag}.jsonl", out / f"ratios{tag}.jsonl"
    open_store(store)  # seeded with the shipped experience (and its model) when new
    done = {(r["task_index"], r["budget_s"], r["strategy"]) for r in _read_jsonl(rows_file)}
    done_ratio = {(r["task_index"], r["budget_s"]) for r in _read_jsonl(ratios_file)}
    config = {"budgets": list(budgets), "tasks": n_tasks, "seed": seed, "ratio_budgets": list(ratio_budgets),
              "bohb_multiple": bohb_multiple, "strategies": list(strategies), "shard": f"{k}/{n}"}
    with open(out / "invocations.jsonl", "a") as f:  # every (resumed, sharded, partial) run that fed the folder
        f.write(json.dumps({**config, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n")
    for ti, spec in enumerate(task_stream(n_tasks, seed)):
        if ti % n != k - 1:
            continue
        for b in budgets:
            for strategy in strategies:
                if (ti, b, strategy) in done:
                    continue
                run_dir = out / "runs" / f"t{ti}-{int(b)}-{strategy}"
                shutil.rmtree(run_dir, ignore_errors=True)
                t = time.time()
                try:
                    m = adapt(spec, b, strategy=strategy, seed=seed + ti, store=store, out=run_dir, start_time=t,
                              learn=strategy == "nasoa", progress=False)
                except NasoaError as e:  # e.g. no regime of this strategy fits: a result too, not a crash
                    _append_jsonl(rows_file, {"task": spec, "task_index": ti, "budget_s": b, "strategy": strategy,
                                              "error": str(e), "wall_s": round(time.time() - t, 2)})
                    shutil.rmtree(run_dir, ignore_errors=True)
                    log(f"task {ti} {b:g}s {strategy:8s} failed: {e}")
                    continue
                wall = time.time() - t
                test_acc = test_accuracy(run_dir, spec, seed + ti)
                row = {"task": spec, "task_index": ti, "budget_s": b, "strategy": strategy, "model": m["model"],
                       "regime": m["regime"], "val_accuracy": m["val_accuracy"], "test_accuracy": test_acc,
                       "predicted_accuracy": m.get("predicted_accuracy"), "wall_s": round(wall, 2),
                       "elapsed_s": m.get("elapsed_s")}
                if strategy == "bohb":
                    row["bohb_trials"] = len(m["bohb"]["trials"])
                _append_jsonl(rows_file, row)
                shutil.rmtree(run_dir, ignore_errors=True)  # weights are not results
                log(f"task {ti} {b:g}s {strategy:8s} {m['model']:<28} val {m['val_accuracy']:.4f} "
                    f"test {test_acc:.4f} ({wall:.1f}s)")
            nasoa_row = next((r for r in _read_jsonl(rows_file) if r["task_index"] == ti and r["budget_s"] == b
                              and r["strategy"] == "nasoa" and "error" not in r), None)
            if b in ratio_budgets and nasoa_row is not None and (ti, b) not in done_ratio:
                mm = MetaModel.load(store, seed=seed)
                task = load_task(spec, seed=seed + ti)
                res = bohb_search(mm, task, b * bohb_multiple, seed=seed + ti)
                need = res.compute_to_reach(nasoa_row["val_accuracy"])
                _append_jsonl(ratios_file, {
                    "task": spec, "task_index": ti, "budget_s": b, "nasoa_accuracy": nasoa_row["val_accuracy"],
                    "bohb_best": res.best_accuracy, "bohb_compute_s": res.compute_s, "bohb_compute_to_reach_s": need,
                    "bohb_trials": len(res.trials), "ratio": round(need / b, 2) if need is not None else None,
                    "ratio_lower_bound": None if need is not None else round(res.compute_s / b, 2)})
                log(f"task {ti} {b:g}s: BOHB reached nasoa's {nasoa_row['val_accuracy']:.4f} after "
                    + (f"{need:.0f}s ({need / b:.1f}x)" if need is not None else f"never in {res.compute_s:.0f}s"))
    result = report(out)
    log(f"report: {out / 'adapt.md'}, {out / 'adapt.png'}, {out / 'adapt.json'}")
    return result


def report(out: Path) -> dict[str, Any]:
    """Merge every row file in ``out`` into adapt.json, adapt.md and adapt.png."""
    from nasoa.runtime import atomic_write_json

    from .provenance import provenance

    every = [r for f in sorted(out.glob("rows*.jsonl")) for r in _read_jsonl(f)]
    failed = [r for r in every if "error" in r]
    rows = [r for r in every if "error" not in r]
    ratios = [r for f in sorted(out.glob("ratios*.jsonl")) for r in _read_jsonl(f)]
    if not rows:
        raise NasoaError(f"no results in {out} yet (no rows*.jsonl); run `nasoa bench adapt --out {out}` first")
    cfg = _read_jsonl(out / "invocations.jsonl")
    budgets = sorted({r["budget_s"] for r in rows})
    present = [s for s in STRATEGIES if any(r["strategy"] == s for r in rows)]
    summary = []
    for b in budgets:
        for s in present:
            sel = [r for r in rows if r["budget_s"] == b and r["strategy"] == s]
            if sel:
                summary.append({"budget_s": b, "strategy": s, "tasks": len(sel),
                                "mean_test_accuracy": statistics.mean(r["test_accuracy"] for r in sel),
                                "mean_val_accuracy": statistics.mean(r["val_accuracy"] for r in sel),
                                "max_wall_over_budget": max(r["wall_s"] / b for r in sel)})
    deltas = []  # nasoa minus each baseline, on the tasks both ran
    for b in budgets:
        ours = {r["task_index"]: r for r in rows if r["budget_s"] == b and r["strategy"] == "nasoa"}
        for s in present:
            if s == "nasoa":
                continue
            pairs = [(ours[r["task_index"]]["test_accuracy"], r["test_accuracy"]) for r in rows
                     if r["budget_s"] == b and r["strategy"] == s and r["task_index"] in ours]
            if pairs:
                d = [a - c for a, c in pairs]
                deltas.append({"budget_s": b, "baseline": s, "tasks": len(d), "mean_delta": statistics.mean(d),
                               "wins": sum(x > 0 for x in d), "ties": sum(x == 0 for x in d)})
    prov = provenance()
    result = {"suite": "adapt", "provenance": prov, "invocations": cfg, "rows": rows, "failed": failed,
              "summary": summary, "nasoa_minus_baseline": deltas, "bohb_ratio": ratios}
    atomic_write_json(out / "adapt.json", result)
    _plot(summary, present, budgets, out / "adapt.png")
    n_tasks = len({r["task_index"] for r in rows})
    lines = [f"# nasoa adapt vs baselines: {n_tasks} tasks x {len(budgets)} budgets", "",
             f"Measured {prov['date']} on {prov['cpu']} ({prov['cpu_cores']} cores), torch {prov['torch']}, "
             f"nasoa {prov['nasoa']}. Each cell: mean **test** accuracy over the tasks (the task's held-out test "
             f"split, evaluated after the budgeted command returned), validation accuracy in brackets.", "",
             "| budget | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
    for b in budgets:
        cells = [next((f"{x['mean_test_accuracy']:.4f} ({x['mean_val_accuracy']:.4f}), n={x['tasks']}"
                       for x in summary if x["budget_s"] == b and x["strategy"] == s), "-") for s in present]
        lines.append(f"| {b:g}s | " + " | ".join(cells) + " |")
    if deltas:
        lines += ["", "## nasoa minus each baseline (test accuracy, same tasks)", "",
                  "| budget | baseline | tasks | mean difference | nasoa better / tied |", "|---|---|---|---|---|"]
        lines += [f"| {d['budget_s']:g}s | {d['baseline']} | {d['tasks']} | {d['mean_delta']:+.4f} | "
                  f"{d['wins']} / {d['ties']} |" for d in deltas]
    if ratios:
        lines += ["", "## Compute BOHB needs to reach nasoa's one-shot (validation) accuracy", "",
                  "| task | budget | nasoa acc | BOHB best | BOHB trials | BOHB compute to reach | ratio |",
                  "|---|---|---|---|---|---|---|"]
        for r in ratios:
            reach = f"{r['bohb_compute_to_reach_s']:.0f}s" if r["ratio"] is not None else f"not in {r['bohb_compute_s']:.0f}s"
            ratio = f"{r['ratio']}x" if r["ratio"] is not None else f"> {r['ratio_lower_bound']}x"
            lines.append(f"| `{r['task']}` | {r['budget_s']:g}s | {r['nasoa_accuracy']:.4f} | {r['bohb_best']:.4f} | "
                         f"{r.get('bohb_trials', '-')} | {reach} | {ratio} |")
    lines += ["", "| task | budget | strategy | model | val | test | wall |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['task_index']} | {r['budget_s']:g}s | {r['strategy']} | {r['model']} | {r['val_accuracy']:.4f} | "
              f"{r['test_accuracy']:.4f} | {r['wall_s']:.1f}s |"
              for r in sorted(rows, key=lambda r: (r["task_index"], r["budget_s"], STRATEGIES.index(r["strategy"])))]
    if failed:
        lines += ["", "Runs that could not start (not counted above):", ""]
        lines += [f"- task {r['task_index']}, {r['budget_s']:g}s, {r['strategy']}: {r['error']}" for r in failed]
    lines += ["", "Tasks: " + "; ".join(f"{i}: `{t}`" for i, t in
                                         sorted({(r['task_index'], r['task']) for r in rows}))]
    from nasoa.runtime import atomic_write_bytes

    atomic_write_bytes(out / "adapt.md", ("\n".join(lines) + "\n").encode())
    return result


def _plot(summary: list[dict[str, Any]], strategies: list[str], budgets: list[float], path: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from nasoa.runtime import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    width = 0.8 / max(1, len(strategies))
    x = np.arange(len(budgets))
    for i, s in enumerate(strategies):
        ys = [next((r["mean_test_accuracy"] for r in summary if r["budget_s"] == b and r["strategy"] == s), np.nan)
              for b in budgets]
        ax.bar(x + (i - (len(strategies) - 1) / 2) * width, ys, width, label=s)
    ax.set_xticks(x, [f"{b:g}s" for b in budgets])
    ax.set_xlabel("budget per task")
    ax.set_ylabel("mean test accuracy")
    lo = min((r["mean_test_accuracy"] for r in summary), default=0.0)
    ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax.legend(fontsize=8, ncol=len(strategies), loc="lower center")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
