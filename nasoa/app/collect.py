"""Collect experience for the meta-learner: sampled regimes over a stream of sampled tasks, each
fine-tuned for real with the trainer and the zoo's pretrained weights, appended to the store.

``nasoa meta collect --store PATH --runs N --seed S --budgets 10,30,60`` calls :func:`collect`.

* Tasks are cut from the built-in sources and task families (:mod:`nasoa.core.families`: generated
  textures, noise fields, shapes, fractals, crops of real photographs; recoloured and corrupted
  variants of the real sets):
  a class subset (2 to ``max_classes``, log-uniform), images per class (few-shot to a few hundred),
  and an image size (``sizes``), always from their training data: ``load_task`` never touches a
  source's test split. The task's spec (hence its family) is recorded with each run for evaluation
  by family; it is never a model input.
* Run ``i`` of seed ``S`` is fully determined by ``(S, i)``: its task is ``i // runs_per_task``,
  its member, budget and regime are drawn from generators seeded by ``(S, i)``. A counter in the
  store (``collect:seed=S``), incremented in the same transaction as each appended run, says how
  many runs are done, so an interrupted collection resumes where it stopped and never records a
  run twice. ``--runs N`` is the total for the seed. The sampling options are recorded with the
  counter; resuming with different ones is refused (run ``i`` would no longer be the same run).
* Task meta-features, including LogME of every member on a few hundred training images
  (:func:`penultimate_features`), are computed once per task and cached in the store. What scoring
  each member took is kept on the task's first run (``extra.transfer``, as ``nasoa adapt`` records its
  set-up's), for the time model.

The parts: :mod:`nasoa.app.collect_plan` (the options and the sampling: members, task stream, run
uids), :mod:`nasoa.app.collect_jobs` (what a worker runs: a task's features, one run),
:mod:`nasoa.app.transfer` (penultimate features for LogME) and :mod:`nasoa.app.refresh`
(recomputing stale cached features). This module is the driver: it samples the regimes, hands the
jobs to an executor and alone writes the store. It is the glue between ``nasoa.meta`` (which never
imports the nets or the trainer) and the trainer and zoo.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nasoa.app.collect_jobs import collect_run_job, task_features_job
from nasoa.app.collect_plan import (EMPTY_ZOO, CollectConfig, checked_plan, pretrained_members, run_uid,
                                   sample_task_spec)
from nasoa.app.executor import LocalExecutor
from nasoa.app.refresh import refresh_features
from nasoa.app.transfer import model_name_for, penultimate_features
from nasoa.core.errors import NasoaError
from nasoa.core.families import family_of
from nasoa.core.profile import speed_probe_ms
from nasoa.core.runtime import available_cores, cpu_model, machine
from nasoa.core.train import Regime
from nasoa.meta.candidates import Grid, candidate_side, sample_regimes
from nasoa.meta.descriptors import MemberTable, descriptor, machine_factor
from nasoa.meta.features import TimeModel
from nasoa.meta.store import ExperienceStore, RunRecord
from nasoa.meta.timing import calibrate_records

__all__ = ["CollectConfig", "collect", "sample_task_spec", "penultimate_features", "pretrained_members",
           "refresh_features", "run_uid", "task_features_job", "collect_run_job", "EMPTY_ZOO"]


def collect(config: CollectConfig, store=None, *, records: Sequence[dict[str, Any]] | None = None,
            on_event: Callable[[dict[str, Any]], None] | None = None, executor=None) -> dict[str, Any]:
    """Run the sampled runs ``counter .. config.runs - 1`` of the seed, appending each to the store.

    ``executor`` (:mod:`nasoa.app.executor`; default: the local one) carries out the runs and the
    per-task features; this process (the driver) samples the regimes and alone writes the store:
    each run's record in one transaction, with a uid fixed by the store, seed and index, so a run
    recorded once stays recorded once however often it was retried. The counter advances over the
    runs done in index order; a run finished ahead of an earlier one is appended at once and
    counted when the earlier ones are done, so an interrupted collection resumes without redoing it.
    ``on_event`` receives dicts (``{"event": "task" | "run" | "skip" | "fail", ...}``) for progress
    display. Returns a summary: runs done before and now, skipped, failed, elapsed.
    """
    members, regime_members, available = checked_plan(config, records)  # the task features use every member
    st = store if isinstance(store, ExperienceStore) else ExperienceStore(store)
    ex = executor if executor is not None else LocalExecutor()
    local = ex.name == "local"
    threads = ex.threads_per_run or available_cores()

    # Feasibility uses step times calibrated by this machine's earlier runs at the threads a run
    # gets; the records stored with each run keep the profiled tables (descriptors are the same on
    # every machine).
    def calibrated_table() -> MemberTable:
        recs, _ = calibrate_records(regime_members, st.timings(), cpu=cpu_model(), threads=threads,
                                    speed_probe=speed_probe_ms(), gpu=machine().get("gpu"))
        return MemberTable(recs)

    table = calibrated_table()
    grid = config.grid or Grid()
    tm = TimeModel(machine_factor=machine_factor())
    key = config.counter_key
    wanted = json.dumps(config.sampling(), sort_keys=True)
    stored = st.set_meta(f"{key}:sampling", wanted, only_if_absent=True)
    if stored != wanted:
        raise NasoaError(
            f"the collection for seed {config.seed} in {st.path} was started with other sampling options "
            f"({stored}); resume with the same --budgets/--runs-per-task/--source, or use another --seed"
        )
    start_index = st.counter(key)
    origin = st.get_meta("created") or str(st.path)
    uids = {i: run_uid(origin, key, i) for i in range(start_index, config.runs)}
    recorded = st.stored_uids(uids.values())  # appended ahead of the counter before an interruption
    rpt = max(1, config.runs_per_task)
    member_by_name = {m["name"]: m for m in members}
    done = skipped = failed = 0
    emit = on_event or (lambda e: None)
    finished: set[int] = {i for i, u in uids.items() if u in recorded}  # done, not yet counted
    next_count = start_index  # the counter's value in the store

    def count_done() -> None:
        """Advance the counter over the finished runs that follow it (their records are stored)."""
        nonlocal next_count
        n = 0
        while next_count + n in finished:
            finished.discard(next_count + n)
            n += 1
        if n:
            st.bump_counter(key, n)
            next_count += n

    def finish(i: int, record: RunRecord | None = None) -> None:
        """Run ``i`` is done: its record (if any) stored, in one transaction with the counter when
        every earlier run is counted."""
        nonlocal next_count
        if i == next_count:
            if record is not None:
                st.append(record, counter=key)
            else:
                st.bump_counter(key)
            next_count += 1
            count_done()
        else:
            if record is not None:
                st.append(record)
            finished.add(i)

    count_done()
    todo = [i for i in range(start_index, config.runs) if i not in finished]
    features: dict[int, tuple[str, dict[str, Any], str]] = {}  # task index -> (task id, features, name)
    scoring: dict[int, dict[str, Any]] = {}  # task index -> what scoring its members took, until a run keeps it
    asked: set[int] = set()
    cached = {spec: (tid, feats) for tid, spec, feats in st.task_list()} if todo else {}
    specs: dict[int, str] = {}
    calibrated_for = todo[0] // rpt if todo else -1
    pos = 0
    with ex:
        # Workers start and import torch before the first run: start-up, not collection time.
        warm_up_s = ex.warm_up(("nasoa.app.collect", "nasoa.core.train", "nasoa.app.workflow", "nasoa.meta.features", "timm",
                                "torchvision")) if todo else 0.0
        t0 = time.time()
        while pos < len(todo) or ex.pending():
            while pos < len(todo) and ex.pending() < ex.slots:
                i = todo[pos]
                t_index = i // rpt
                if t_index not in features:
                    # Its runs wait for the task's features; a slot free meanwhile (at the start, under
                    # Ray) computes the next task's.
                    for t in (t_index, t_index + 1):
                        if t not in asked and ex.pending() < ex.slots and t * rpt <= todo[-1]:
                            spec = specs.setdefault(t, sample_task_spec(config.seed, t, available, config))
                            ex.submit(("task", t), task_features_job, spec, members, config.logme_images,
                                      config.seed, config.pretrained, cached.get(spec))
                            asked.add(t)
                    break
                if t_index != calibrated_for:
                    table = calibrated_table()  # the step times this collection has measured so far
                    calibrated_for = t_index
                tid, feats, spec = features[t_index]
                pos += 1
                rng = np.random.default_rng([int(config.seed), int(i), 202])
                budget = config.sample_budget(rng)
                try:
                    (cand,) = sample_regimes(table, feats, budget, 1, rng, grid, tm)
                except NasoaError as e:  # no regime fits this budget on this task
                    finish(i)
                    skipped += 1
                    emit({"event": "skip", "index": i, "reason": str(e)})
                    continue
                rec = member_by_name[cand["model_name"]]
                regime = Regime.from_dict({**grid.fixed(), "lr": cand["lr"], "frozen_stages": cand["frozen_stages"],
                                           "schedule": cand["schedule"], "optimizer": cand["optimizer"],
                                           "batch_size": cand["batch_size"], "epochs": None})
                run_seed = int(rng.integers(0, 2**31 - 1))
                side = candidate_side(cand) if grid.input_sizes else None
                ex.submit(("run", i, budget, cand["planned_epochs"]), collect_run_job, spec, rec, model_name_for(rec),
                          regime.to_dict(), budget, run_seed, config.device, config.pretrained, side)
            if not ex.pending():  # the last runs were skipped at sampling: nothing left to wait for
                continue
            out = ex.next_done()
            kind, index = out.key[0], out.key[1]
            if kind == "task":
                if not out.ok:
                    raise NasoaError(f"the features of task {index} ({specs[index]}) could not be computed: "
                                     f"{out.error}; run the command again to resume")
                tid, feats, changed, name, scored = out.value
                if changed:
                    st.put_task_features(tid, feats, name)
                features[index] = (tid, feats, name)
                if scored:
                    scoring[index] = scored
                emit({"event": "task", "index": index, "spec": name, "task_id": tid})
                continue
            _, i, budget, planned_epochs = out.key
            if not out.ok:  # the worker died on every attempt: counted as done, the reason kept
                st.set_meta(f"{key}:failed:{i}", out.error)
                finish(i)
                failed += 1
                emit({"event": "fail", "index": i, "reason": out.error})
                continue
            r = out.value
            if "skip" in r:
                finish(i)
                skipped += 1
                emit({"event": "skip", "index": i, "reason": r["skip"]})
                continue
            tid, feats, spec = features[i // rpt]
            rec = member_by_name[r["model_name"]]
            d = {k: v for k, v in descriptor(rec).items() if k != "_machine"}
            where = {} if local else {"executor": ex.name, "queue_s": out.queue_s, "worker": out.worker}
            record = RunRecord(
                task_id=tid, task_spec=r["task_spec"], task_features=feats, model_name=rec["name"], model_features=d,
                regime=r["regime"], budget_s=budget, val_accuracy=r["val_accuracy"], elapsed_s=r["elapsed_s"],
                diverged=r["diverged"], stop_reason=r["stop_reason"], seed=r["seed"], versions=r["versions"],
                strategy="random", uid=uids[i],
                extra={**r["extra"], "time_model_epochs": planned_epochs, "machine": r["machine"],
                       "collect": {"seed": config.seed, "index": i, "task_index": i // rpt},
                       "threads": r["threads"], "input_size": r["input_size"], "family": family_of(r["task_spec"]),
                       "cpu_share": r["cpu_share"], "cpu_wait": r.get("cpu_wait"), "loadavg": r["loadavg"],
                       "speed_probe_ms": r.get("speed_probe_ms"),
                       **({"transfer": scoring.pop(i // rpt)} if i // rpt in scoring else {}),
                       **where, **config.extra},
            )
            finish(i, record)
            done += 1
            emit({"event": "run", "index": i, "record": record, "elapsed_s": r["wall_s"]})
    summary = {"store": str(st.path), "seed": config.seed, "before": start_index, "target": config.runs,
               "appended": done, "skipped": skipped, "elapsed_s": round(time.time() - t0, 2),
               "runs_in_store": st.count()}
    if not local:
        summary.update(failed=failed, warm_up_s=warm_up_s, **ex.describe())
    return summary
