"""``nasoa bench stability``: does the one-shot pick hold when only ``--seed`` changes?

The seed moves the train/validation split and the sample the meta-features are measured on, not
the task. A pick that changes member with the seed says the features' sampling noise moves the
ranking more than the task does, unless the candidates are tied within the predictor's
uncertainty, when either pick is as good a bet. For each task and budget, ``nasoa adapt --dry-run
--no-learn`` (the pure one-shot pick, as ``--dry-run`` shows it) runs at ``seeds`` seeds, each from a
private copy of the same snapshot as ``nasoa bench adapt`` (with ``hold_out_family``, the snapshot
without the task's family), inside the same budget (the transferability scoring is sized by it).
Per seed the row records the pick, its predicted accuracy and uncertainty, and the best candidate
of any other member: the margin between them, and whether it lies within the pick's uncertainty.

The j-th seed of task ``ti`` is ``seed + ti + 100 * j``: seed 0 repeats the ``nasoa bench adapt``
row's own seed (``seed + ti``). Resumable and shardable like ``nasoa bench adapt``: rows are
appended to ``stability[-shardK].jsonl``; the report (``stability.md``, ``stability.json``) merges
every row file in the folder.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from nasoa.app.adapt import adapt
from nasoa.core.errors import NasoaError
from nasoa.core.families import lineage_of
from nasoa.core.runtime import atomic_write_bytes

from .adapt_store import _append_jsonl, _drop_torn_tail, _read_jsonl, _scratch, _start_from, seed_store
from .provenance import fields, provenance

__all__ = ["run_stability", "stability_job", "stability_report", "STABLE_SHARE"]

PROTOCOL = 1
STABLE_SHARE = 0.8  # the same member at 4 of 5 seeds (#11's bar)
TOP_ROWS = 200  # candidates the dry run ranks: enough to hold every member's best regime


def _seed_of(seed: int, ti: int, j: int) -> int:
    return seed + ti + 100 * j


def stability_job(spec: str, ti: int, b: float, j: int, seed: int, snapshot: Path, work: Path) -> dict[str, Any]:
    """One (task, budget, seed) dry run from a private copy of ``snapshot``; a NasoaError (e.g. a
    budget too small) is the row's result."""
    work = _scratch(work)
    store = work / "experience.sqlite"
    s = _seed_of(seed, ti, j)
    base = {"protocol": PROTOCOL, "task": spec, "task_index": ti, "budget_s": b, "seed_index": j, "seed": s}
    try:
        _start_from(snapshot, store)
        t = time.time()
        try:
            m = adapt(spec, b, strategy="nasoa", seed=s, store=store, start_time=t, learn=False, dry_run=True,
                      k=TOP_ROWS, progress=False)
        except NasoaError as e:
            return {**base, "error": str(e)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pick = {"model": m["model"], "regime": m["regime"], "predicted_accuracy": m["predicted_accuracy"],
            "uncertainty": m["uncertainty"]}
    top = m.get("top") or []
    other = next((r for r in top if r.get("model_name") != m["model"]), None)
    # The margin in the ranking score (unclipped): on an easy task both may show accuracy 1.0.
    margin = None if other is None or not top else float(top[0]["score"]) - float(other["score"])
    unc = m.get("uncertainty")
    return {**base, **pick, "runner_up": None if other is None else other["model_name"],
            "runner_up_predicted": None if other is None else other["predicted_accuracy"],
            "margin": None if margin is None else round(margin, 5),
            "tied": bool(margin is not None and unc is not None and margin < float(unc)),
            "novelty": (m.get("novelty") or {}).get("score"), "would_probe": m.get("probe") is not None,
            "setup_s": m.get("setup_s"), "transfer": m.get("transfer"), "elapsed_s": m.get("elapsed_s")}


def run_stability(out: Path, tasks: list[str], budgets: tuple[float, ...] = (30.0, 90.0), seeds: int = 5,
                  seed: int = 0, shard: tuple[int, int] = (1, 1), hold_out_family: bool = False,
                  seed_store_from: str | Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the (task, budget, seed) dry runs not yet in ``out``, one after another in this process,
    and write the report. Snapshots as in :func:`nasoa.bench.adapt.run` (shared with it when ``out``
    is the same folder)."""
    if not tasks:
        raise NasoaError("no tasks to check; pass --task SPEC or --tasks-from FILE")
    if seeds < 2:
        raise NasoaError(f"--seeds {seeds}: stability needs at least 2 seeds per task and budget")
    k, n = shard
    out.mkdir(parents=True, exist_ok=True)
    rows_file = out / (f"stability-shard{k}.jsonl" if n > 1 else "stability.jsonl")
    _drop_torn_tail(rows_file)
    done = {(r["task"], float(r["budget_s"]), int(r["seed_index"])) for r in _read_jsonl(rows_file)
            if r.get("protocol") == PROTOCOL}
    for ti, spec in enumerate(tasks):
        if ti % n != k - 1:
            continue
        todo = [(b, j) for b in budgets for j in range(seeds) if (spec, float(b), j) not in done]
        if not todo:
            continue
        snap = seed_store(out, seed_store_from, seed, exclude=lineage_of(spec) if hold_out_family else None)
        for b, j in todo:
            row = stability_job(spec, ti, b, j, seed, snap, out / "work" / f"stability-t{ti}-{b:g}s-{j}")
            _append_jsonl(rows_file, row)
            log(f"task {ti} {b:g}s seed {row['seed']}: " + (f"error: {row['error']}" if "error" in row else
                f"{row['model']} (predicted {row['predicted_accuracy']:.3f} +- {row['uncertainty'] or 0:.3f}; "
                f"runner-up {row['runner_up']} by {row['margin'] if row['margin'] is not None else float('nan'):+.3f})"))
    return stability_report(out)


def stability_report(out: Path) -> dict[str, Any]:
    """``stability.json`` and ``stability.md`` from every ``stability*.jsonl`` in ``out``."""
    rows = [r for f in sorted(out.glob("stability*.jsonl")) for r in _read_jsonl(f) if r.get("protocol") == PROTOCOL]
    if not rows:
        raise NasoaError(f"no stability rows in {out}; run `nasoa bench stability --out {out}` first")
    cells: dict[tuple[int, str, float], list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: (r["task_index"], r["budget_s"], r["seed_index"])):
        cells.setdefault((r["task_index"], r["task"], float(r["budget_s"])), []).append(r)
    table = []
    for (ti, spec, b), rs in cells.items():
        ok = [r for r in rs if "error" not in r]
        counts = Counter(r["model"] for r in ok)
        top, agree = counts.most_common(1)[0] if counts else (None, 0)
        deviating = [r for r in ok if r["model"] != top]
        # A seed that picked another member, when the usual pick was within that seed's uncertainty.
        table.append({
            "task_index": ti, "task": spec, "budget_s": b, "seeds": len(rs), "errors": len(rs) - len(ok),
            "picks": [r.get("model") for r in rs], "member": top, "agree": agree,
            "stable": bool(ok) and agree / len(rs) >= STABLE_SHARE,
            "tied": sum(1 for r in ok if r["tied"]),
            "deviations_tied": all(r["tied"] for r in deviating) if deviating else None,
            "margin_median": _median([r["margin"] for r in ok if r["margin"] is not None]),
            "uncertainty_median": _median([r["uncertainty"] for r in ok if r["uncertainty"] is not None]),
            "would_probe": sum(1 for r in ok if r["would_probe"]),
        })
    budgets = sorted({c["budget_s"] for c in table})
    summary = {b: {"cells": sum(1 for c in table if c["budget_s"] == b),
                   "stable": sum(1 for c in table if c["budget_s"] == b and c["stable"]),
                   "unstable_but_tied": sum(1 for c in table if c["budget_s"] == b and not c["stable"]
                                            and c["deviations_tied"])} for b in budgets}
    result = {"provenance": provenance(), "protocol": PROTOCOL, "stable_share": STABLE_SHARE, "rows": len(rows),
              "summary": {f"{b:g}s": v for b, v in summary.items()}, "cells": table}
    atomic_write_bytes(out / "stability.json", (json.dumps(result, indent=1) + "\n").encode())
    pf = fields(result["provenance"])
    lines = [f"# Pick stability under --seed: {len(table)} task x budget cells, {len(rows)} dry runs", "",
             f"Measured {pf.get('date')} on {pf.get('cpu')} ({pf.get('cpu_cores')} cores), torch {pf.get('torch')}, "
             f"nasoa {pf.get('nasoa')} (commit {str((pf.get('git') or {}).get('commit', '?'))[:7]}). Each "
             f"cell: `nasoa adapt --dry-run --no-learn` at each seed (seed + task index + 100 j), from a private copy "
             f"of the cell's snapshot; **stable** = the same member at >= {STABLE_SHARE:.0%} of the seeds; "
             f"**tied** = the pick's predicted margin over the best other member is below its uncertainty.", "",
             "| budget | cells | stable | not stable, every deviation tied |", "|---|---|---|---|"]
    lines += [f"| {b:g} s | {v['cells']} | {v['stable']} | {v['unstable_but_tied']} |" for b, v in summary.items()]
    lines += ["", "| task | budget | member (seeds agreeing) | picks by seed | margin (median) | uncertainty (median) "
              "| seeds tied | would probe |", "|---|---|---|---|---|---|---|---|"]
    for c in table:
        picks = ", ".join(p or "error" for p in c["picks"])
        fmt = (lambda v: "-" if v is None else f"{v:.3f}")  # noqa: E731
        lines.append(f"| {c['task_index']} | {c['budget_s']:g} s | {c['member']} ({c['agree']}/{c['seeds']}) | {picks} "
                     f"| {fmt(c['margin_median'])} | {fmt(c['uncertainty_median'])} | {c['tied']} "
                     f"| {c['would_probe']} |")
    lines += ["", "Tasks: " + "; ".join(f"{c['task_index']}: `{c['task']}`" for c in table
                                         if c["budget_s"] == budgets[0])]
    atomic_write_bytes(out / "stability.md", ("\n".join(lines) + "\n").encode())
    return result


def _median(values: list[float]) -> float | None:
    return statistics.median(float(x) for x in values) if values else None
