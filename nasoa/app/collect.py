"""Collect experience for the meta-learner: sampled regimes over a stream of sampled tasks, each
fine-tuned for real with the trainer and the zoo's pretrained weights, appended to the store.

``nasoa meta collect --store PATH --runs N --seed S --budgets 10,30,60`` calls :func:`collect`.

* Tasks are cut from the built-in sources and task families (:mod:`nasoa.core.families`: generated
  textures, noise fields, shapes, fractals; recoloured and corrupted variants of the real sets):
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
  (:func:`penultimate_features`), are computed once per task and cached in the store.

This module is the glue between ``nasoa.meta`` (which never imports the nets or the trainer) and
the trainer and zoo.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasoa.core.errors import NasoaError
from nasoa.zoo import profiled_records

__all__ = ["CollectConfig", "collect", "sample_task_spec", "penultimate_features", "pretrained_members",
           "refresh_features", "run_uid", "task_features_job", "collect_run_job"]

EMPTY_ZOO = "the zoo has no pretrained members; run `nasoa zoo pretrain` first"


@dataclass(frozen=True)
class CollectConfig:
    """What ``nasoa meta collect`` samples. ``runs`` is the total number of sampled runs for the seed."""

    runs: int
    seed: int = 0
    budgets: tuple[float, ...] = (10.0, 30.0, 60.0)
    runs_per_task: int = 6
    sources: tuple[str, ...] | None = None  # built-in names; None: every available one
    per_class: tuple[int, ...] = (10, 20, 50, 100, 200)
    min_classes: int = 2
    max_classes: int = 10
    logme_images: int = 300
    # Task sizes (px) to sample from; None: each source's native size. Real sources keep their
    # native size half of the time.
    sizes: tuple[int, ...] | None = None
    budget_weights: tuple[float, ...] | None = None  # sampling weights of ``budgets``; None: uniform
    max_train_images: int = 6000  # per_class is lowered so that a task has at most this many
    min_val_per_class: int = 0  # a larger validation split where the source has room (less noisy labels)
    device: str = "cpu"
    pretrained: bool = True  # False only for smoke tests with untrained members
    grid: Any = None  # nasoa.meta.candidates.Grid; None: the default grid
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def counter_key(self) -> str:
        return f"collect:seed={self.seed}"

    def sampling(self) -> dict[str, Any]:
        """The options that decide what run ``i`` is: a resumed collection must keep them."""
        grid = self.grid.to_dict() if self.grid is not None else None
        out = {"budgets": list(self.budgets), "runs_per_task": self.runs_per_task,
               "sources": list(self.sources) if self.sources is not None else None,
               "per_class": list(self.per_class), "min_classes": self.min_classes, "max_classes": self.max_classes,
               "logme_images": self.logme_images, "pretrained": self.pretrained, "grid": grid}
        # Options added later enter the record only when set, so older collections still resume.
        for key, default in (("sizes", None), ("budget_weights", None), ("max_train_images", 6000),
                             ("min_val_per_class", 0)):
            value = getattr(self, key)
            if value != default:
                out[key] = list(value) if isinstance(value, tuple) else value
        return out

    def sample_budget(self, rng: np.random.Generator) -> float:
        if self.budget_weights is None:
            return float(self.budgets[int(rng.integers(len(self.budgets)))])
        w = np.asarray(self.budget_weights, dtype=np.float64)
        if len(w) != len(self.budgets) or (w < 0).any() or w.sum() <= 0:
            raise NasoaError("budget weights need one non-negative weight per budget, not all zero")
        return float(self.budgets[int(rng.choice(len(w), p=w / w.sum()))])


def pretrained_members(records: Sequence[dict[str, Any]] | None = None, pretrained: bool = True) -> list[dict]:
    """Zoo records that can be fine-tuned from pretrained weights here (with measured step times)."""
    recs = list(records) if records is not None else profiled_records()
    recs = [r for r in recs if r.get("train_step_ms")]
    if not pretrained:
        return recs
    from nasoa.core.models import get_entry, is_model

    out = []
    for r in recs:
        if is_model(r["name"]) and get_entry(r["name"]).pretrained:
            out.append(r)
    return out


def sample_task_spec(seed: int, task_index: int, sources: Sequence[dict[str, Any]], config: CollectConfig) -> str:
    """The task spec of task ``task_index`` in seed ``seed``'s stream (deterministic)."""
    rng = np.random.default_rng([int(seed), int(task_index), 101])
    src = sources[int(rng.integers(len(sources)))]
    n_cls = int(src["num_classes"])
    hi = min(config.max_classes, n_cls)
    lo = min(config.min_classes, hi)
    if config.sizes is None:  # the original sampler (uniform class count), kept for old collections
        k = int(rng.integers(lo, hi + 1))
    else:  # log-uniform: as many 2-5 class tasks as 10-50 class ones
        k = int(np.clip(np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))), lo, hi))
    classes = sorted(int(c) for c in rng.choice(n_cls, size=k, replace=False))
    # Leave room for a validation split (a quarter of per_class by default) in every class.
    room = int(src["train_images"] / n_cls * 0.7)
    options = [p for p in config.per_class if p <= room] or [max(2, room)]
    per_class = int(rng.choice(options))
    task_seed = int(rng.integers(0, 2**31 - 1))
    query = f"classes={','.join(map(str, classes))}&per_class={per_class}"
    if config.sizes is not None:
        per_class = max(2, min(per_class, config.max_train_images // k))
        query = f"classes={','.join(map(str, classes))}&per_class={per_class}"
        val = max(config.min_val_per_class, int(round(per_class / 4)))
        if config.min_val_per_class and per_class + val <= room / 0.7:
            query += f"&val_per_class={val}"
        if src.get("kind") == "generated" or rng.random() < 0.5:
            query += f"&size={int(rng.choice(config.sizes))}"
    return f"builtin:{src['name']}?{query}&seed={task_seed}"


def penultimate_features(task, member: str | dict[str, Any], n: int = 300, seed: int = 0, *, pretrained: bool = True,
                         batch_size: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features (``forward_features`` then global average pooling) of up to ``n``
    training images of ``task`` under a zoo member, with their labels: LogME's input."""
    import torch

    from nasoa.core.data import Batches
    from nasoa.core.models import create_model

    rec = member if isinstance(member, dict) else _record(member)
    name = rec["name"]
    size = int(rec.get("input_size") or 32)
    model = create_model(_model_name_for(rec), pretrained=pretrained, num_classes=max(2, task.num_classes),
                         input_size=size)
    if not hasattr(model, "forward_features"):
        raise NasoaError(f"zoo member {name!r} has no forward_features(); it cannot be scored with LogME")
    t = task.resized(size)
    y = t.y_train.numpy()
    idx = np.arange(len(y))
    if len(idx) > n:  # a stratified-ish sample: a seeded permutation keeps every class represented
        idx = np.sort(np.random.default_rng(seed).permutation(len(y))[:n])
    xs, ys = t.x_train[idx], t.y_train[idx]
    mean = tuple(rec.get("mean", (0.5, 0.5, 0.5)))
    std = tuple(rec.get("std", (0.5, 0.5, 0.5)))
    batches = Batches(xs, ys, batch_size=batch_size, shuffle=False, augment=False, mean=mean, std=std, channels=3)
    model.eval()
    feats = []
    with torch.inference_mode():
        for xb, _ in batches.epoch(0):
            f = model.forward_features(xb)
            if f.ndim == 4:
                f = f.mean(dim=(2, 3))
            feats.append(f.reshape(f.shape[0], -1).double().numpy())
    return np.concatenate(feats), ys.numpy()


def _registered(name: str) -> bool:
    from nasoa.core.models import is_model

    return is_model(name)


def _record(name: str) -> dict[str, Any]:
    for r in profiled_records():
        if r["name"] == name:
            return r
    raise NasoaError(f"no zoo member named {name!r}; see `nasoa zoo list`")


def _model_name_for(rec: dict[str, Any]) -> str:
    """What create_model should be given: the registered name, else the member's encoding."""
    if _registered(rec["name"]) or not rec.get("encoding"):
        return rec["name"]
    return rec["encoding"]


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
    from nasoa.meta.candidates import Grid, sample_regimes
    from nasoa.meta.descriptors import MemberTable, descriptor, machine_factor
    from nasoa.meta.timing import calibrate_records
    from nasoa.meta.features import TimeModel
    from nasoa.meta.store import ExperienceStore, RunRecord

    from nasoa.core.data import list_builtin
    from nasoa.app.executor import LocalExecutor
    from nasoa.core.families import family_of
    from nasoa.core.runtime import available_cores, cpu_model
    from nasoa.core.train import Regime

    members = pretrained_members(records, config.pretrained)
    if not members:
        raise NasoaError(EMPTY_ZOO)
    if config.runs < 0:
        raise NasoaError(f"--runs {config.runs} must be >= 0")
    if not config.budgets or min(config.budgets) <= 0:
        raise NasoaError("--budgets needs positive seconds, e.g. 10,30,60")
    st = store if isinstance(store, ExperienceStore) else ExperienceStore(store)
    available = [s for s in list_builtin() if s["available"]]
    if config.sources is not None:
        unknown = set(config.sources) - {s["name"] for s in list_builtin()}
        if unknown:
            raise NasoaError(f"unknown built-in source(s) {', '.join(sorted(unknown))}; see `nasoa data list`")
        available = [s for s in available if s["name"] in config.sources]
    if not available:
        raise NasoaError("no built-in data source is installed here; run `bash install.sh` (or pip install "
                         "scikit-learn for builtin:digits)")
    ex = executor if executor is not None else LocalExecutor()
    local = ex.name == "local"
    threads = ex.threads_per_run or available_cores()

    # Feasibility uses step times calibrated by this machine's earlier runs at the threads a run
    # gets; the records stored with each run keep the profiled tables (descriptors are the same on
    # every machine).
    def calibrated_table() -> MemberTable:
        recs, _ = calibrate_records(members, st.timings(), cpu=cpu_model(), threads=threads)
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
                ex.submit(("run", i, budget, cand["planned_epochs"]), collect_run_job, spec, rec, _model_name_for(rec),
                          regime.to_dict(), budget, run_seed, config.device, config.pretrained)
            if not ex.pending():  # the last runs were skipped at sampling: nothing left to wait for
                continue
            out = ex.next_done()
            kind, index = out.key[0], out.key[1]
            if kind == "task":
                if not out.ok:
                    raise NasoaError(f"the features of task {index} ({specs[index]}) could not be computed: "
                                     f"{out.error}; run the command again to resume")
                tid, feats, changed, name = out.value
                if changed:
                    st.put_task_features(tid, feats, name)
                features[index] = (tid, feats, name)
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
                       "cpu_share": r["cpu_share"], "loadavg": r["loadavg"], **where, **config.extra},
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


def run_uid(origin: str, counter_key: str, index: int) -> str:
    """The uid of sampled run ``index`` of a collection: the same on every attempt, distinct across
    stores (``origin``: the store's creation stamp) so merged stores keep every run."""
    import uuid

    return uuid.uuid5(uuid.NAMESPACE_URL, f"nasoa:{origin}:{counter_key}:{index}").hex


# A worker keeps the task it last loaded: a task's runs (and its features) follow one another.
_LOADED: dict[str, Any] = {}


def _load(spec: str):
    from nasoa.core.data import load_task

    if spec not in _LOADED:
        _LOADED.clear()
        _LOADED[spec] = load_task(spec)
    return _LOADED[spec]


def task_features_job(spec: str, members: Sequence[dict[str, Any]], logme_images: int, seed: int, pretrained: bool,
                      cached: tuple[str, dict[str, Any]] | None) -> tuple[str, dict[str, Any], bool, str]:
    """A task's meta-features with every member's transferability scores (run by an executor):
    ``(task id, features, changed, task name)``. ``cached`` is what the driver's store holds for the spec; only
    what it lacks is computed. Never opens the store."""
    from nasoa.meta.features import cached_task_features

    task = _load(spec)
    unsaved = {cached[0]: (dict(cached[1]), spec)} if cached is not None else {}
    before = {k: json.dumps(v[0], sort_keys=True, default=str) for k, v in unsaved.items()}

    def extract(name: str) -> tuple[np.ndarray, np.ndarray]:
        rec = next(m for m in members if m["name"] == name)
        return penultimate_features(task, rec, logme_images, seed, pretrained=pretrained)

    tid, feats = cached_task_features(task, members=[m["name"] for m in members], extract=extract, unsaved=unsaved)
    changed = before.get(tid) != json.dumps(unsaved[tid][0], sort_keys=True, default=str) if tid in unsaved else True
    return tid, feats, changed, str(task.name)


def collect_run_job(spec: str, rec: dict[str, Any], model_name: str, regime: dict[str, Any], budget: float,
                    run_seed: int, device: str, pretrained: bool) -> dict[str, Any]:
    """One sampled run, fine-tuned for real (run by an executor): its outcome as plain data, or
    ``{"skip": reason}`` when the budget cannot hold a step. The budget starts here, when the
    worker starts the run, not when the run was submitted. Never opens the store."""
    from nasoa.core.runtime import available_cores, machine, versions
    from nasoa.core.train import BudgetTooSmallError, Regime, finetune
    from nasoa.app.workflow import prepare_model_and_task

    start = time.time()
    cpu0 = time.process_time()
    task = _load(spec)
    reg = Regime.from_dict(regime)
    threads = available_cores()
    try:
        prep = prepare_model_and_task(task.name, model_name, seed=run_seed, pretrained=pretrained,
                                      size=int(rec.get("input_size") or 32), device=device, task=task)
        result = finetune(prep.model, prep.task, reg, budget, seed=run_seed, start_time=start,
                          device=prep.device, mean=tuple(rec.get("mean", prep.mean)),
                          std=tuple(rec.get("std", prep.std)), hflip=prep.hflip, progress=False)
    except BudgetTooSmallError as e:
        return {"skip": str(e)}
    # The CPU this process got per wall second over the run, per thread it may use: well below 1
    # means the run shared its cores with other work, so its accuracy understates the budget.
    wall = max(time.time() - start, 1e-6)
    cpu_share = round((time.process_time() - cpu0) / wall / max(threads, 1), 3)
    return {
        "model_name": rec["name"], "task_spec": task.name, "regime": reg.to_dict(), "val_accuracy": result.val_accuracy,
        "elapsed_s": result.elapsed_s, "diverged": result.diverged, "stop_reason": result.stop_reason,
        "seed": run_seed, "versions": versions(), "machine": machine(), "threads": threads, "input_size": prep.size,
        "cpu_share": cpu_share, "loadavg": round(os.getloadavg()[0], 2), "wall_s": wall,
        "extra": {"steps": result.steps, "epochs": result.epochs, "planned_steps": result.planned_steps,
                  "step_ms": result.step_ms, "batch_size": min(reg.batch_size, task.num_train),
                  "predicted_s": result.predicted_s, "train_accuracy": result.train_accuracy,
                  "val_loss": result.val_loss},
    }


def refresh_features(store, *, force: bool = False, on_event: Callable[[dict[str, Any]], None] | None = None,
                     ) -> dict[str, Any]:
    """Recompute the features of the store's tasks whose stored features predate the current
    definitions (no k-NN scores, a dataset identity, a member without scores), from each task's
    spec: the task is cut again exactly as when it was collected. With ``force``, every task.
    Tasks whose data cannot be loaded here, or no longer match their id, are left as they are and
    reported. Returns counts."""
    from nasoa.meta.features import TRANSFER_IMAGES, TRANSFER_SCORES, task_id, task_meta_features, transfer_scores
    from nasoa.meta.store import ExperienceStore

    from nasoa.core.data import DataError, load_task

    st = store if isinstance(store, ExperienceStore) else ExperienceStore(store)
    members = pretrained_members()
    names = [m["name"] for m in members]
    emit = on_event or (lambda e: None)
    done = skipped = runs = 0
    for tid, spec, feats in st.task_list():
        stale = force or "task_source" in feats or any(
            set(names) - set((feats.get(k) or {})) for k in TRANSFER_SCORES)
        if not stale:
            continue
        try:
            task = load_task(spec)
        except DataError as e:
            skipped += 1
            emit({"event": "skip", "task_id": tid, "spec": spec, "reason": str(e)})
            continue
        if task_id(task) != tid:
            skipped += 1
            emit({"event": "skip", "task_id": tid, "spec": spec, "reason": "the spec no longer gives the same data"})
            continue
        new = dict(task_meta_features(task))

        def extract(name: str, _task=task) -> tuple[np.ndarray, np.ndarray]:
            rec = next(m for m in members if m["name"] == name)
            return penultimate_features(_task, rec, TRANSFER_IMAGES, 0)

        new.update(transfer_scores(extract, names))
        runs += st.replace_task_features(tid, new, spec)
        done += 1
        emit({"event": "task", "task_id": tid, "spec": spec})
    return {"store": str(st.path), "refreshed": done, "skipped": skipped, "runs_updated": runs}
