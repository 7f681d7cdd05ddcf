"""``nasoa bench adapt``'s report: every row file of an output folder merged (the newest protocol,
the last row written per task, budget and strategy) into ``adapt.json``, ``adapt.md`` (mean test
accuracy per strategy and budget, nasoa minus each baseline, planned vs run epochs, the BOHB
compute-to-match ratio, failures, provenance) and ``adapt.png``."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from nasoa.core.errors import NasoaError
from nasoa.core.figures import figure, save_png
from nasoa.core.runtime import atomic_write_bytes, atomic_write_json

from .adapt_store import COMPARE, PROTOCOL, STRATEGIES, _read_jsonl, _row_key
from .provenance import fields, provenance

def _latest(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The rows of the newest protocol present, one per (task, budget, strategy) (the last written
    wins), and how many older-protocol rows were left out."""
    newest = max((r.get("protocol", 1) for r in rows), default=PROTOCOL)
    keep = {}
    for r in rows:
        if r.get("protocol", 1) == newest:
            keep[_row_key(r)] = r
    return list(keep.values()), sum(r.get("protocol", 1) != newest for r in rows)


def _paired(rows: list[dict[str, Any]], budget: float, baseline: str) -> list[float]:
    """nasoa's test accuracy minus ``baseline``'s, on each task of ``budget`` that both ran."""
    ours = {r["task"]: r["test_accuracy"] for r in rows if r["budget_s"] == budget and r["strategy"] == "nasoa"}
    return [ours[r["task"]] - r["test_accuracy"] for r in rows
            if r["budget_s"] == budget and r["strategy"] == baseline and r["task"] in ours]


def _epochs(r: dict[str, Any]) -> str:
    """``planned / run`` epochs of a row; ``-`` where a strategy plans none (practice, bohb)."""
    planned, ran = r.get("planned_epochs"), r.get("epochs")
    return f"{'-' if planned is None else f'{planned:.1f}'} / {'-' if ran is None else f'{ran:.1f}'}"


def report(out: Path) -> dict[str, Any]:
    """Merge every row file in ``out`` into adapt.json, adapt.md and adapt.png."""
    every = [r for f in sorted(out.glob("rows*.jsonl")) for r in _read_jsonl(f)]
    every, older = _latest(every)
    protocol = max((r.get("protocol", 1) for r in every), default=PROTOCOL)
    failed = [r for r in every if "error" in r]
    rows = [r for r in every if "error" not in r]
    ratios = [r for f in sorted(out.glob("ratios*.jsonl")) for r in _read_jsonl(f) if r.get("protocol", 1) == protocol]
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
        for s in present:
            d = _paired(rows, b, s) if s != "nasoa" else []
            if d:
                deltas.append({"budget_s": b, "baseline": s, "tasks": len(d), "mean_delta": statistics.mean(d),
                               "wins": sum(x > 0 for x in d), "ties": sum(x == 0 for x in d)})
    prov = provenance()
    pv = fields(prov)  # its values by the names the report prints
    result = {"suite": "adapt", "protocol": protocol, "provenance": prov, "invocations": cfg, "rows": rows,
              "failed": failed, "summary": summary, "nasoa_minus_baseline": deltas, "bohb_ratio": ratios}
    atomic_write_json(out / "adapt.json", result)
    _plot(summary, present, budgets, out / "adapt.png")
    n_tasks = len({r["task"] for r in rows})
    seen = sorted({json.dumps(r.get("store_seen"), sort_keys=True) for r in rows if r.get("store_seen")})
    if protocol >= PROTOCOL:
        how = ("Every row started from its own copy of one store snapshot (" + "; ".join(
            f"{json.loads(x)['runs']} runs, {json.loads(x)['cached_tasks']} tasks with cached features" for x in seen)
            + "): no row saw another row's run or its cached meta-features/LogME; each paid its own set-up inside "
              "its budget.")
    else:
        how = ("**Old protocol**: the rows of a task shared one store, so later rows saw earlier runs and cached "
               "LogME; re-run with this version to measure without that flaw.")
    compare = list(COMPARE) if "nasoa" in present else []  # "-" where a baseline has no rows
    lines = [f"# nasoa adapt vs baselines: {n_tasks} tasks x {len(budgets)} budgets", "",
             f"Measured {pv['date']} on {pv['cpu']} ({pv['cpu_cores']} cores), torch {pv['torch']}, "
             f"nasoa {pv['nasoa']}. Each cell: mean **test** accuracy over the tasks (the task's held-out test "
             f"split, evaluated after the budgeted command returned), validation accuracy in brackets. "
             f"{how}" + (f" ({older} rows of an older protocol left out.)" if older else ""), "",
             "| budget | " + " | ".join(present + [f"nasoa - {c}" for c in compare]) + " |",
             "|---|" + "---|" * (len(present) + len(compare))]
    for b in budgets:
        cells = [next((f"{x['mean_test_accuracy']:.4f} ({x['mean_val_accuracy']:.4f}), n={x['tasks']}"
                       for x in summary if x["budget_s"] == b and x["strategy"] == s), "-") for s in present]
        for c in compare:
            d = _paired(rows, b, c)
            cells.append(f"{statistics.mean(d):+.4f}, n={len(d)}" if d else "-")
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
    lines += ["", "| task | budget | strategy | model | input px | epochs planned / run | val | test | wall |",
              "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['task_index']} | {r['budget_s']:g}s | {r['strategy']} | {r['model']} | "
              f"{r.get('input_size', '-')} | {_epochs(r)} | {r['val_accuracy']:.4f} | {r['test_accuracy']:.4f} | "
              f"{r['wall_s']:.1f}s |"
              for r in sorted(rows, key=lambda r: (r["task_index"], r["budget_s"], STRATEGIES.index(r["strategy"])))]
    if failed:
        lines += ["", "Runs that could not start (not counted above):", ""]
        lines += [f"- task {r['task_index']}, {r['budget_s']:g}s, {r['strategy']}: {r['error']}" for r in failed]
    lines += ["", "Tasks: " + "; ".join(f"{i}: `{t}`" for i, t in
                                         sorted({(r['task_index'], r['task']) for r in rows}))]
    atomic_write_bytes(out / "adapt.md", ("\n".join(lines) + "\n").encode())
    return result


def _plot(summary: list[dict[str, Any]], strategies: list[str], budgets: list[float], path: Path) -> None:
    fig, ax = figure(figsize=(6.4, 3.6), dpi=110)
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
    save_png(fig, path)
