"""Does the time model plan two-thread runs it learned from one-thread runs, and from a few
two-thread ones? The collection's runs on two threads (seed 17, ``../collect-20261201/``, ids from
FIRST), each task's runs predicted by the time model calibrated on the other runs, with this
machine's thread count set to 2. Two arms:

* ``ship``: the runs before the two-thread collection only (how the ship as it was plans a
  two-thread run: one-thread runs and the thread slope's prior, ``threads**-0.7``);
* ``two-thread``: every other task's runs, two-thread ones included (leave one task out).

Reported per member: the median measured / predicted step time, and how many runs stepped within
25% of the prediction (epochs planned from it land within 25% of those run, the trainer's overheads
aside). Runs whose threads waited for a core more than 0.2 of the time are left out, as the time
model leaves them out.

    python threads.py STORE FIRST
"""

from __future__ import annotations

import json
import math
import sqlite3
import statistics
import sys
from collections import defaultdict

from nasoa.meta.store import ExperienceStore
from nasoa.meta.timing import calibrate_records
from nasoa.zoo import profiled_records

LIMIT = 2000  # the most recent runs a calibration reads (ExperienceStore.timings' default)


def _timings_with_ids(store: str) -> list[tuple[int, str, dict]]:
    """The store's timings (most recent first) beside their run and task ids: ``timings`` skips runs
    without a step time, and so does this."""
    timings = ExperienceStore(store, create=False).timings(limit=10 ** 9)
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    ids = [(i, task) for i, task, extra in con.execute("SELECT id, task_id, extra FROM runs ORDER BY id DESC")
           if (lambda e: e.get("step_ms", e.get("step_ms_at_input_size")) is not None)(json.loads(extra or "{}"))]
    assert len(ids) == len(timings)
    return [(i, task, t) for (i, task), t in zip(ids, timings)]


def _predict(rec: dict, t: dict) -> float:
    table = rec["train_step_ms"]
    k = min((int(j) for j in table), key=lambda j: (abs(j - int(t["frozen_stages"] or 0)), j))
    batch = float(t.get("batch_size") or rec.get("train_step_batch") or 64)
    size = float(t.get("input_size") or rec.get("input_size"))
    return (float(table[str(k)]) * (batch / float(rec.get("train_step_batch") or 64))
            ** float(rec.get("train_step_batch_exponent", 1.0))
            * (size / float(rec["input_size"])) ** float(rec.get("train_step_size_exponent", 2.0)))


def main() -> None:
    store, first = sys.argv[1], int(sys.argv[2])
    rows = _timings_with_ids(store)
    test = [(i, task, t) for i, task, t in rows
            if i >= first and t.get("threads") == 2 and (t.get("cpu_wait") or 0) <= 0.2]
    tasks = sorted({task for _, task, _ in test})
    probe = statistics.median(t["speed_probe_ms"] for _, _, t in test)
    zoo = profiled_records()
    print(f"{len(test)} two-thread runs on {len(tasks)} tasks (ids from {first}), each task's predicted "
          f"without its runs; this machine's probe read as their median, {probe:.1f} ms (each prediction "
          "rescaled by its run's own probe)")
    arms = ("ship", "two-thread")
    table: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    slopes: dict[str, list[float]] = defaultdict(list)
    for task in tasks:
        cal = {"ship": [t for i, _, t in rows if i < first][:LIMIT],
               "two-thread": [t for _, tk, t in rows if tk != task][:LIMIT]}
        for arm, runs in cal.items():
            recs, info = calibrate_records(zoo, runs, cpu=None, threads=2, speed_probe=probe)
            slopes[arm].append(info["slopes"]["threads"])
            by = {r["name"]: r for r in recs}
            for _, tk, t in test:
                if tk == task:
                    pred = _predict(by[t["model_name"]], t) * float(t["speed_probe_ms"]) / probe
                    table[t["model_name"]][arm].append(float(t["step_ms"]) / pred)
                    table["(all)"][arm].append(float(t["step_ms"]) / pred)
    print("thread slope (median over the folds): "
          + ", ".join(f"{a} {statistics.median(slopes[a]):.3f}" for a in arms))
    print()
    print("| member | runs | " + " | ".join(f"{a}: measured/pred (within 25%)" for a in arms) + " |")
    print("|---|---|" + "---|" * len(arms))
    for name in sorted(table, key=lambda n: (n == "(all)", n)):
        cells = []
        for arm in arms:
            r = table[name][arm]
            inside = sum(abs(x - 1) <= 0.25 for x in r)
            cells.append(f"{statistics.median(r):.2f} ({inside}/{len(r)})")
        print(f"| {name} | {len(table[name]['ship'])} | " + " | ".join(cells) + " |")
    errs = {a: statistics.median(abs(math.log(x)) for x in table["(all)"][a]) for a in arms}
    print("\nmedian |log(measured/predicted)|: " + ", ".join(f"{a} {v:.3f}" for a, v in errs.items()))


if __name__ == "__main__":
    main()
