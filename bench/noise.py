"""``nasoa bench noise``: how much of a run's accuracy is luck, and so how low a top-1 regret can go.

The meta-model is judged by its top-1 regret: per task, the best run's accuracy minus that of the
run it ranks first. A run's accuracy is one draw: the same task, member, regime, budget and input
side at another seed (another initialisation of the new head, another order of batches) lands
elsewhere, and the best of ten draws is lifted by that luck. This bench measures it: it re-runs
every run of a sample of tasks in an experience store (the collection's: ``nasoa meta collect``)
with a fresh seed, exactly as the collection ran it (:func:`nasoa.app.collect_jobs.collect_run_job`),
and compares the two outcomes.

* **Run-to-run noise**: per pair, the difference of the two accuracies; the noise's standard
  deviation is ``sqrt(mean(d^2) / 2)``, by budget and by learning rate. A replicate runs the
  epochs its original ran (the regime's ``epochs``, with time to spare), not what the budget holds
  here: on a faster machine it would run more and measure the machine instead of the seed.
* **The regret of an oracle that has seen each run once**: per task, pick the run whose first
  outcome was best and score it on the replicates (best replicate minus the pick's replicate), and
  the same the other way round; the mean over tasks. A predictor as good as having run every
  candidate once still pays this, so it is a floor that the meta-model's regret (measured the same
  way, on outcomes it never saw) can be held against.

Tasks are drawn at random, ``per_family`` from each task family with at least ``min_runs`` runs, by
``seed``; only pairs whose runs both had at least ``MIN_CPU_SHARE`` of their core count (a starved
run trains for fewer epochs). Resumable and shardable like ``nasoa bench stability``: rows go to
``noise[-shardK].jsonl``, keyed by the original run's uid; the report (``noise.md``,
``noise.json``) merges every row file in the folder. The source store is only read.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nasoa.app.collect_jobs import collect_run_job
from nasoa.app.collect_plan import pretrained_members
from nasoa.app.transfer import model_name_for
from nasoa.core.errors import NasoaError
from nasoa.core.families import family_of
from nasoa.core.runtime import atomic_write_bytes
from nasoa.meta.store import ExperienceStore, RunRecord

from .adapt_store import _append_jsonl, _drop_torn_tail, _read_jsonl
from .provenance import fields, provenance

__all__ = ["select_tasks", "replicate_seed", "run_noise", "noise_report", "MIN_CPU_SHARE"]

PROTOCOL = 2
MIN_CPU_SHARE = 0.8  # both runs of a pair had at least this share of their core
# A replicate runs the epochs its original ran, not what the budget holds on this machine (a faster
# machine would run more and measure the machine, not the seed): it gets this much more time.
EPOCHS_BUDGET_FACTOR, EPOCHS_BUDGET_PAD_S = 3.0, 10.0
EPOCHS_MATCH = 0.05  # a pair counts only when the replicate ran the original's epochs within 5%


def replicate_seed(seed: int, uid: str, original: int) -> int:
    """The replicate's run seed: fixed by ``seed`` and the run's uid, never the original's."""
    s = int.from_bytes(hashlib.sha256(f"{seed}:{uid}".encode()).digest()[:4], "big") % (2**31 - 1)
    return s if s != int(original) else (s + 1) % (2**31 - 1)


def _family(r: RunRecord) -> str:
    return str(r.extra.get("family") or family_of(r.task_spec))


def select_tasks(records: Sequence[RunRecord], per_family: int, seed: int, min_runs: int = 5) -> list[str]:
    """``per_family`` task ids from each family with at least ``min_runs`` runs, at random by
    ``seed``; interleaved across families (a partial run still covers every family)."""
    by_task: dict[str, list[RunRecord]] = defaultdict(list)
    for r in records:
        if r.task_spec:
            by_task[r.task_id].append(r)
    by_family: dict[str, list[str]] = defaultdict(list)
    for tid, rs in sorted(by_task.items()):
        if len(rs) >= min_runs:
            by_family[_family(rs[0])].append(tid)
    rng = np.random.default_rng([int(seed), 303])
    picks = {f: [tids[i] for i in rng.permutation(len(tids))[:per_family]] for f, tids in sorted(by_family.items())}
    return [p[j] for j in range(per_family) for _, p in sorted(picks.items()) if j < len(p)]


def _lr(r: dict[str, Any]) -> float:
    return float(r["regime"].get("lr") or float("nan"))


def replicate_job(r: RunRecord, rec: dict[str, Any], seed: int, device: str, pretrained: bool) -> dict[str, Any]:
    """Run ``r`` again with a fresh seed, as the collection ran it, for the epochs it ran (the
    schedule spans them); the pair as a row."""
    s = replicate_seed(seed, r.uid, r.seed)
    epochs = r.extra.get("epochs")
    regime = {**r.regime, "epochs": float(epochs)} if epochs else dict(r.regime)
    budget = EPOCHS_BUDGET_FACTOR * r.budget_s + EPOCHS_BUDGET_PAD_S if epochs else r.budget_s
    out = collect_run_job(r.task_spec, rec, model_name_for(rec), regime, budget, s, device, pretrained,
                          r.extra.get("input_size"))
    base = {"protocol": PROTOCOL, "uid": r.uid, "task_id": r.task_id, "task": r.task_spec, "family": _family(r),
            "model": r.model_name, "regime": r.regime, "budget_s": r.budget_s, "input_size": r.extra.get("input_size"),
            "seed": r.seed, "y": r.val_accuracy, "cpu_share": r.extra.get("cpu_share"),
            "epochs": r.extra.get("epochs"), "replicate_seed": s}
    if "skip" in out:
        return {**base, "error": out["skip"]}
    return {**base, "y_rep": out["val_accuracy"], "cpu_share_rep": out["cpu_share"], "epochs_rep": out["extra"]["epochs"],
            "elapsed_s_rep": out["elapsed_s"], "diverged_rep": out["diverged"]}


def run_noise(out: Path, store: str | Path, per_family: int = 2, seed: int = 0, shard: tuple[int, int] = (1, 1),
              *, min_runs: int = 5, device: str = "cpu", pretrained: bool = True,
              records: Sequence[dict[str, Any]] | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Replicate the runs of the selected tasks not yet in ``out`` (this shard's tasks: index % N ==
    K-1), one after another in this process, then write the report. ``records``: the zoo's member
    records (default: the profiled zoo)."""
    path = Path(store)
    if not path.is_file():
        raise NasoaError(f"no experience store at {path}; pass the store a collection wrote (nasoa meta collect --store)")
    runs = ExperienceStore(path, create=False).records()
    by_task: dict[str, list[RunRecord]] = defaultdict(list)
    for r in runs:
        by_task[r.task_id].append(r)
    options = {"store": str(path.resolve()), "per_family": per_family, "seed": seed, "min_runs": min_runs}
    sel_file = out / "selection.json"
    if sel_file.exists():
        # A resume keeps the tasks (and their runs) it started with, though the store has grown since.
        sel = json.loads(sel_file.read_text())
        if {k: sel.get(k) for k in options} != options:
            raise NasoaError(f"{out} holds a noise bench started with other options "
                             f"({', '.join(f'{k}={sel.get(k)}' for k in options)}); resume with those or use another --out")
        tasks, counts = list(sel["tasks"]), dict(sel["runs"])
    else:
        tasks = select_tasks(runs, per_family, seed, min_runs)
        if not tasks:
            raise NasoaError(f"no task in {path} has {min_runs} or more collected runs; collect more "
                             "(nasoa meta collect) or lower --min-runs")
        counts = {t: len(by_task[t]) for t in tasks}
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(sel_file, (json.dumps({**options, "tasks": tasks, "runs": counts}, indent=2) + "\n").encode())
    members = {m["name"]: m for m in pretrained_members(records, pretrained)}
    k, n = shard
    rows_file = out / (f"noise-shard{k}.jsonl" if n > 1 else "noise.jsonl")
    _drop_torn_tail(rows_file)
    done = {r["uid"] for r in _read_jsonl(rows_file) if r.get("protocol") == PROTOCOL}
    for ti, tid in enumerate(tasks):
        if ti % n != k - 1:
            continue
        for r in by_task[tid][:counts[tid]]:  # runs in store order: those the selection counted
            if r.uid in done:
                continue
            if r.model_name not in members:
                row = {"protocol": PROTOCOL, "uid": r.uid, "task_id": tid, "task": r.task_spec, "family": _family(r),
                       "error": f"member {r.model_name} is not in this zoo"}
            else:
                row = replicate_job(r, members[r.model_name], seed, device, pretrained)
            _append_jsonl(rows_file, row)
            log(f"task {ti} {r.model_name} {r.budget_s:g}s: " + (f"error: {row['error']}" if "error" in row else
                f"{row['y']:.3f} -> {row['y_rep']:.3f}"))
    return noise_report(out)


def _epochs_match(r: dict[str, Any]) -> bool:
    e, e2 = r.get("epochs"), r.get("epochs_rep")
    return e is None or (e2 is not None and abs(e2 - e) <= EPOCHS_MATCH * e)


def _sd(diffs: Sequence[float]) -> float | None:
    return round(math.sqrt(sum(d * d for d in diffs) / (2 * len(diffs))), 4) if diffs else None


def _oracle_regret(pairs: Sequence[dict[str, Any]]) -> float:
    """Pick by one outcome, score on the other; both ways, halved."""
    y1 = np.array([p["y"] for p in pairs])
    y2 = np.array([p["y_rep"] for p in pairs])
    return 0.5 * (float(y2.max() - y2[int(np.argmax(y1))]) + float(y1.max() - y1[int(np.argmax(y2))]))


def noise_report(out: Path) -> dict[str, Any]:
    """``noise.json`` and ``noise.md`` from every ``noise*.jsonl`` in ``out``."""
    rows = [r for f in sorted(out.glob("noise*.jsonl")) for r in _read_jsonl(f) if r.get("protocol") == PROTOCOL]
    if not rows:
        raise NasoaError(f"no noise rows in {out}; run `nasoa bench noise --out {out}` first")
    sel = json.loads((out / "selection.json").read_text()) if (out / "selection.json").exists() else {}
    ok = [r for r in rows if "error" not in r]
    clean = [r for r in ok if (r.get("cpu_share") or 0) >= MIN_CPU_SHARE and (r.get("cpu_share_rep") or 0) >= MIN_CPU_SHARE
             and _epochs_match(r)]
    expected = sel.get("runs", {})
    d = [r["y_rep"] - r["y"] for r in clean]
    groups: dict[str, list[float]] = defaultdict(list)
    for r, v in zip(clean, d):
        groups[f"budget {r['budget_s']:g} s"].append(v)
        groups["lr >= 0.03" if _lr(r) >= 0.03 else "lr < 0.03"].append(v)
    # Tasks whose every run has its row, scored over their clean pairs (at least 3).
    seen = defaultdict(int)
    for r in rows:
        seen[r["task_id"]] += 1
    tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in clean:
        tasks[r["task_id"]].append(r)
    complete = {t: ps for t, ps in tasks.items() if len(ps) >= 3 and seen[t] >= expected.get(t, math.inf)}
    per_task = [{"task_id": t, "task": ps[0]["task"], "family": ps[0]["family"], "runs": len(ps),
                 "oracle_regret": round(_oracle_regret(ps), 4),
                 "best_gap": round(max(p["y"] for p in ps) - max(p["y_rep"] for p in ps), 4)} for t, ps in complete.items()]
    summary = {
        "rows": len(rows), "errors": len(rows) - len(ok), "pairs_clean": len(clean),
        "pairs_left_out": len(ok) - len(clean),
        "pairs_left_out_epochs": sum(1 for r in ok if not _epochs_match(r)),
        "noise_sd": _sd(d), "mean_abs_diff": round(statistics.fmean(abs(v) for v in d), 4) if d else None,
        "median_abs_diff": round(statistics.median(abs(v) for v in d), 4) if d else None,
        "mean_diff": round(statistics.fmean(d), 4) if d else None,
        "by_group": {g: {"pairs": len(v), "noise_sd": _sd(v)} for g, v in sorted(groups.items())},
        "tasks_complete": len(per_task),
        "oracle_regret_mean": round(statistics.fmean(t["oracle_regret"] for t in per_task), 4) if per_task else None,
        "oracle_regret_median": round(statistics.median(t["oracle_regret"] for t in per_task), 4) if per_task else None,
    }
    res = {"provenance": provenance(), "protocol": PROTOCOL, "selection": sel, "min_cpu_share": MIN_CPU_SHARE,
           "summary": summary, "tasks": per_task}
    atomic_write_bytes(out / "noise.json", (json.dumps(res, indent=2, default=str) + "\n").encode())
    pf = fields(res["provenance"])
    lines = [
        "# Run-to-run noise (`nasoa bench noise`)", "",
        f"Measured {pf.get('date')} on {pf.get('cpu')} ({pf.get('cpu_cores')} cores), torch {pf.get('torch')}, "
        f"nasoa {pf.get('nasoa')} (commit {str((pf.get('git') or {}).get('commit', '?'))[:7]}); source store "
        f"`{sel.get('store')}`, {sel.get('per_family')} tasks per family (seed {sel.get('seed')}).", "",
        "Every run of the selected tasks run again with a fresh seed, as the collection ran it, for the epochs it ran; "
        f"pairs whose runs both had at least {MIN_CPU_SHARE:.0%} of their core and the same epochs within "
        f"{EPOCHS_MATCH:.0%}. Oracle regret: per task, the run whose first outcome was best, "
        "scored on the replicates (and the other way round, halved); the floor for a predictor as good as having run "
        "every candidate once.", "",
        f"Pairs: {summary['pairs_clean']} ({summary['pairs_left_out']} left out for a starved run or epochs not "
        f"matched ({summary['pairs_left_out_epochs']}), "
        f"{summary['errors']} errors). Noise sd **{summary['noise_sd']}**, mean |difference| {summary['mean_abs_diff']}, "
        f"median {summary['median_abs_diff']}, mean difference {summary['mean_diff']}.", "",
        "| group | pairs | noise sd |", "|---|---|---|",
        *(f"| {g} | {v['pairs']} | {v['noise_sd']} |" for g, v in summary["by_group"].items()), "",
        f"Tasks with every run replicated: {summary['tasks_complete']}; oracle regret mean "
        f"**{summary['oracle_regret_mean']}**, median {summary['oracle_regret_median']}.", "",
        "| task | family | runs | oracle regret | best first - best replicate |", "|---|---|---|---|---|",
        *(f"| {t['task']} | {t['family']} | {t['runs']} | {t['oracle_regret']} | {t['best_gap']} |" for t in per_task), "",
    ]
    atomic_write_bytes(out / "noise.md", "\n".join(lines).encode())
    return res
