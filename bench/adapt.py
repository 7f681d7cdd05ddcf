"""``nasoa bench adapt``: every strategy of ``nasoa adapt`` on the same tasks and budgets, side by side.

For each task (cut from the built-in sources, seeded; or the caller's list, e.g. held-out
families) and each budget, the one-shot strategies (``nasoa``, ``practice``, ``default``,
``random``, ``logme``) and ``bohb`` run under the same wall-clock budget. Every strategy is judged
on the task's held-out **test** split (never seen while choosing or training; BOHB even selects its
best trial on validation accuracy, an optimistic bias), evaluated after the budgeted command
returns. Then, for the budgets in ``ratio_budgets``, BOHB runs again with ``bohb_multiple`` times
the budget, and we read how much compute it needed to reach the validation accuracy ``nasoa``
reached in one shot: our analogue of NASOA's "40x less compute than BOHB".

Protocol: every (task, budget, strategy) row starts from the same snapshot of the experience store
(``seed.sqlite`` in the output folder: the shipped experience and its model, or ``seed_store``),
copied into the row's private work dir. So no row sees another row's run (``nasoa`` at 90 s has not
learned its 30 s run on the same task; no strategy sees another's run of the task), and no row
reuses meta-features or LogME cached by another: each pays its own set-up inside its budget. Each
row records what its store held when it started (``store_seen``). The process is warmed up first
(imports, the task's source decoded), so the first row does not pay one-off costs the others skip.

Hours of CPU, so: every finished row is appended at once (fsync) to ``rows[-shardK].jsonl`` and a
re-run skips what is there (Ctrl-C loses at most the row in progress; a torn last line is dropped
and that row runs again); ``shard=(K, N)`` runs the tasks with ``index % N == K - 1``, so N pinned
processes can share a machine and a folder; the report (``adapt.json``, ``adapt.md``,
``adapt.png``) merges every row file in the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from nasoa.core.errors import NasoaError
from nasoa.core.figures import figure, save_png
from nasoa.core.sqlite import copy_database
from nasoa.zoo import profiled_records

from .provenance import fields, provenance

ONE_SHOT = ("nasoa", "practice", "default", "random", "logme")
STRATEGIES = (*ONE_SHOT, "bohb")
# Rows of this protocol start from a private copy of one store snapshot; earlier rows (protocol 1)
# shared one store along the stream and are only reported when nothing newer is there.
PROTOCOL = 2
# The comparison columns of the main table: nasoa minus each of these.
COMPARE = ("practice", "default")


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


def read_tasks_file(path: str | Path) -> list[str]:
    """Task specs from a file: one data spec per line; blank lines and ``#`` comments are skipped."""
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except OSError as e:
        raise NasoaError(f"cannot read the task list {p}: {e.strerror or e}; pass a file with one data spec per line")
    specs = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    if not specs:
        raise NasoaError(f"the task list {p} has no data specs; write one per line, e.g. builtin:digits?per_class=50")
    return specs


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


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a kill left without its newline, so the next append starts a line of
    its own (appended to the fragment, a good row would be unreadable too)."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
            f.flush()
            os.fsync(f.fileno())


def _append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def copy_store(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite experience store (through SQLite's backup, so committed WAL
    content comes along) and of its fitted meta-model, when it has one."""
    from nasoa.meta.metamodel import default_model_dir

    copy_database(src, dst)
    model = default_model_dir(src)
    if model.is_dir():
        shutil.copytree(model, default_model_dir(dst), dirs_exist_ok=True)


def seed_store(out: Path, source: str | Path | None = None, seed: int = 0, exclude: str | None = None) -> Path:
    """``out/seed.sqlite``, the snapshot every row starts from, made on first use: a copy of
    ``source``, or a new store seeded with the shipped experience and its meta-model; fitted once
    here when it has runs but no model, so no row pays for that. Later calls (a resume, another
    shard) reuse it unchanged. ``exclude``: a task family (lineage, :func:`nasoa.core.families.lineage_of`)
    whose runs are removed and the meta-model fitted without them (``out/seed-without-FAMILY.sqlite``),
    so a task of that family meets a meta-model that has never seen its family."""
    from nasoa.app.adapt import open_store
    from nasoa.meta.metamodel import MetaModel, default_model_dir

    path = out / ("seed.sqlite" if exclude is None else f"seed-without-{exclude}.sqlite")
    if path.exists():
        return path
    tmp = out / f".seed-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        if source is not None:
            if not Path(source).is_file():
                raise NasoaError(f"--seed-store {source} does not exist; pass an experience store file (.sqlite)")
            copy_store(Path(source), tmp / "seed.sqlite")
        st = open_store(tmp / "seed.sqlite")  # an empty store is seeded as `nasoa adapt` would seed it
        if exclude is not None:
            from nasoa.core.families import lineage_of

            dropped = st.drop_tasks([tid for tid, spec, _ in st.task_list() if lineage_of(spec) == exclude])
            if dropped:  # the model beside the copy learned the family: fit anew without it
                shutil.rmtree(default_model_dir(tmp / "seed.sqlite"), ignore_errors=True)
        if st.count():
            MetaModel.load(st, zoo=profiled_records(), seed=seed).store.close()  # fits and caches a model when there is none
        st.close()
        model = default_model_dir(tmp / "seed.sqlite")
        if model.is_dir() and not default_model_dir(path).exists():
            os.replace(model, default_model_dir(path))
        final = tmp / "final.sqlite"
        copy_store(tmp / "seed.sqlite", final)  # one self-contained file, no WAL beside it
        os.replace(final, path)  # the file's existence marks the snapshot complete
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def store_state(path: Path) -> dict[str, int]:
    """What a store holds: runs and tasks with cached meta-features (LogME included)."""
    from nasoa.meta.store import ExperienceStore

    st = ExperienceStore(path)
    try:
        s = st.stats()
    finally:
        st.close()
    return {"runs": s["runs"], "cached_tasks": s["cached_tasks"]}


def _warm_up(seed_path: Path) -> None:
    """Pay the process's one-off costs before any row: module imports (torchvision and timm build
    the ImageNet members) and the meta-model's back-ends (imported on load)."""
    import importlib

    from nasoa.meta.metamodel import MetaModel

    for name in ("nasoa.app.collect", "nasoa.app.bohb", "nasoa.core.train", "nasoa.app.workflow", "torchvision", "timm"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    MetaModel.load(seed_path, zoo=profiled_records()).store.close()


def test_accuracy(run_dir: Path, spec: str, seed: int) -> float:
    """Accuracy of a run dir's fine-tuned model on the task's held-out test split."""
    from nasoa.core.data import Batches, load_test
    from nasoa.app.predict import load_run
    from nasoa.core.train import evaluate

    model, classes, mspec = load_run(run_dir)
    test = load_test(spec, seed=seed).resized(int(mspec["input_size"]))
    if list(test.classes) != list(classes):
        raise NasoaError(f"the test split of {spec} has other classes than the run in {run_dir}")
    batches = Batches(test.x_val, test.y_val, batch_size=256, shuffle=False, augment=False,
                      mean=tuple(mspec.get("mean", (0.5,) * 3)), std=tuple(mspec.get("std", (0.5,) * 3)), channels=3)
    return evaluate(model, batches.epoch(0), "cpu")[0]


def _row_key(r: dict[str, Any]) -> tuple[str, float, str]:
    return r["task"], float(r["budget_s"]), r["strategy"]


def snapshot_files(seed_path: Path) -> dict[str, bytes]:
    """A store snapshot and its fitted model as ``{relative path: bytes}``: what a worker on another
    machine unpacks to start a row from it (the snapshot is self-contained, no WAL beside it)."""
    from nasoa.meta.metamodel import default_model_dir

    files = {seed_path.name: seed_path.read_bytes()}
    model = default_model_dir(seed_path)
    if model.is_dir():
        for f in sorted(model.rglob("*")):
            if f.is_file():
                files[str(f.relative_to(seed_path.parent))] = f.read_bytes()
    return files


def _start_from(snapshot: Path | dict[str, bytes], store: Path) -> None:
    """Put a copy of the snapshot (a path, or :func:`snapshot_files`) at ``store``."""
    if isinstance(snapshot, Path):
        copy_store(snapshot, store)
        return
    from nasoa.meta.metamodel import default_model_dir

    name = next(iter(snapshot))  # the store file comes first
    store.parent.mkdir(parents=True, exist_ok=True)
    for rel, data in snapshot.items():
        dest = store if rel == name else default_model_dir(store) / Path(rel).relative_to(Path(name).stem + ".model")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def _scratch(work: Path | None) -> Path:
    """The row's private work dir: ``work`` (local), else a fresh temp dir on the worker's machine."""
    import tempfile

    if work is None:
        return Path(tempfile.mkdtemp(prefix="nasoa-bench-adapt-"))
    shutil.rmtree(work, ignore_errors=True)
    return work


def row_job(spec: str, ti: int, b: float, strategy: str, seed: int, snapshot: Path | dict[str, bytes],
            work: Path | None) -> dict[str, Any]:
    """One (task, budget, strategy) row, from a private copy of the snapshot in ``work`` (removed
    after): what an executor runs. A strategy's NasoaError is the row's result, not a crash."""
    from nasoa.app.adapt import adapt
    from nasoa.core.data import load_task

    try:
        load_task(spec, seed=seed + ti)  # the task's source decoded before the row's clock starts
    except NasoaError:
        pass  # a bad spec: the row records the error
    work = _scratch(work)
    store = work / "experience.sqlite"
    try:
        _start_from(snapshot, store)
        seen = store_state(store)
        run_dir = work / "run"
        base = {"protocol": PROTOCOL, "task": spec, "task_index": ti, "budget_s": b, "strategy": strategy,
                "store_seen": seen}
        t = time.time()
        try:
            m = adapt(spec, b, strategy=strategy, seed=seed + ti, store=store, out=run_dir, start_time=t,
                      learn=strategy == "nasoa", progress=False)
        except NasoaError as e:  # e.g. no regime of this strategy fits: a result too, not a crash
            return {**base, "error": str(e), "wall_s": round(time.time() - t, 2)}
        wall = time.time() - t
        test_acc = test_accuracy(run_dir, spec, seed + ti)
        trained = json.loads((run_dir / "manifest.json").read_text())
        row = {**base, "model": m["model"], "regime": m["regime"],
               "input_size": trained["model"]["input_size"], "val_accuracy": m["val_accuracy"],
               "test_accuracy": test_acc, "predicted_accuracy": m.get("predicted_accuracy"),
               "planned_epochs": m.get("planned_epochs"), "epochs": trained["result"]["epochs"],
               "steps": trained["result"]["steps"], "stop_reason": trained["result"]["stop_reason"],
               "wall_s": round(wall, 2), "elapsed_s": m.get("elapsed_s"), "setup_s": m.get("setup_s"),
               "novelty": (m.get("novelty") or {}).get("score"), "probe": m.get("probe"),
               "probe_trials": m.get("probe_trials")}
        if strategy == "bohb":
            row["bohb_trials"] = len(m["bohb"]["trials"])
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)  # weights and the store copy are not results


def ratio_job(spec: str, ti: int, b: float, seed: int, bohb_multiple: int, nasoa_accuracy: float,
              snapshot: Path | dict[str, bytes], work: Path | None) -> dict[str, Any]:
    """BOHB with ``bohb_multiple`` x the budget on the task, from a private copy of the snapshot: how
    much compute it needs to reach nasoa's one-shot validation accuracy. What an executor runs."""
    from nasoa.app.bohb import bohb_search
    from nasoa.core.data import load_task
    from nasoa.meta.metamodel import MetaModel

    work = _scratch(work)
    try:
        _start_from(snapshot, work / "experience.sqlite")
        mm = MetaModel.load(work / "experience.sqlite", zoo=profiled_records(), seed=seed)
        task = load_task(spec, seed=seed + ti)
        res = bohb_search(mm, task, b * bohb_multiple, seed=seed + ti)
        mm.store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    need = res.compute_to_reach(nasoa_accuracy)
    return {"protocol": PROTOCOL, "task": spec, "task_index": ti, "budget_s": b,
            "nasoa_accuracy": nasoa_accuracy, "bohb_best": res.best_accuracy,
            "bohb_compute_s": res.compute_s, "bohb_compute_to_reach_s": need, "bohb_trials": len(res.trials),
            "ratio": round(need / b, 2) if need is not None else None,
            "ratio_lower_bound": None if need is not None else round(res.compute_s / b, 2)}


def run(out: Path, budgets: tuple[float, ...] = (30.0, 90.0, 300.0), n_tasks: int = 6, seed: int = 0,
        ratio_budgets: tuple[float, ...] = (30.0,), bohb_multiple: int = 8, strategies: tuple[str, ...] = STRATEGIES,
        shard: tuple[int, int] = (1, 1), log: Callable[[str], None] = print, tasks: list[str] | None = None,
        seed_store_from: str | Path | None = None, hold_out_family: bool = False, executor=None) -> dict[str, Any]:
    """Run the rows not yet in ``out`` (see the module docstring) and write the report.

    ``hold_out_family``: each task's rows start from the snapshot without the task's family
    (:func:`seed_store` with ``exclude``): the meta-model meets the task as it would a user's
    task of a kind it has never seen.

    ``tasks``: data specs to bench on (default: ``task_stream(n_tasks, seed)``);
    ``seed_store_from``: the store every row starts from a copy of (default: the shipped experience);
    only the first invocation on ``out`` takes its snapshot.

    ``executor`` (:mod:`nasoa.app.executor`; default: the local one, rows one after another in this
    process) runs the rows; this process alone appends them to the row files. Under Ray each row
    works in a temp dir of its worker, from the snapshot's bytes, and returns its row.
    """
    from nasoa.app.executor import LocalExecutor

    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise NasoaError(f"unknown strategies {', '.join(unknown) or '(none given)'}; choose from {', '.join(STRATEGIES)}")
    specs = list(tasks) if tasks else task_stream(n_tasks, seed)
    k, n = shard
    out.mkdir(parents=True, exist_ok=True)
    tag = f"-shard{k}" if n > 1 else ""
    rows_file, ratios_file = out / f"rows{tag}.jsonl", out / f"ratios{tag}.jsonl"
    for f in (rows_file, ratios_file):
        _drop_torn_tail(f)
    seed_path = seed_store(out, seed_store_from, seed)
    seeded = store_state(seed_path)
    done = {_row_key(r) for r in _read_jsonl(rows_file) if r.get("protocol") == PROTOCOL}
    done_ratio = {(r["task"], float(r["budget_s"])) for r in _read_jsonl(ratios_file) if r.get("protocol") == PROTOCOL}
    ex = executor if executor is not None else LocalExecutor()
    local = ex.name == "local"
    config = {"protocol": PROTOCOL, "budgets": list(budgets), "tasks": len(specs), "task_list": specs, "seed": seed,
              "ratio_budgets": list(ratio_budgets), "bohb_multiple": bohb_multiple, "strategies": list(strategies),
              "shard": f"{k}/{n}", "seed_store": {"from": str(seed_store_from) if seed_store_from else "shipped",
                                                  **seeded}, "hold_out_family": hold_out_family,
              **({} if local else {"executor": ex.describe()})}
    with open(out / "invocations.jsonl", "a") as f:  # every (resumed, sharded, partial) run that fed the folder
        f.write(json.dumps({**config, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n")
    # The jobs in the order a single process runs them: each (task, budget)'s strategies, then its
    # BOHB ratio, which waits for that budget's nasoa row.
    jobs: list[tuple] = []
    snapshots: dict[Path, Path | dict[str, bytes]] = {}
    for ti, spec in enumerate(specs):
        if ti % n != k - 1:
            continue
        todo = [(b, s) for b in budgets for s in strategies if (spec, float(b), s) not in done]
        task_seed_path = seed_path
        if hold_out_family and todo:
            from nasoa.core.families import lineage_of

            task_seed_path = seed_store(out, seed_store_from, seed, exclude=lineage_of(spec))
        if task_seed_path not in snapshots:
            snapshots[task_seed_path] = task_seed_path if local else snapshot_files(task_seed_path)
        for b in budgets:
            for strategy in strategies:
                if (spec, float(b), strategy) not in done:
                    jobs.append(("row", ti, spec, b, strategy, task_seed_path))
            if b in ratio_budgets and (spec, float(b)) not in done_ratio:
                jobs.append(("ratio", ti, spec, b, None, task_seed_path))

    def nasoa_accuracy(spec: str, b: float) -> float | None:
        r = next((r for r in _read_jsonl(rows_file) if r.get("protocol") == PROTOCOL and r["task"] == spec
                  and r["budget_s"] == b and r["strategy"] == "nasoa" and "error" not in r), None)
        return None if r is None else r["val_accuracy"]

    flying: set[tuple[int, float, str]] = set()
    with ex:
        if local:
            _warm_up(seed_path)
        else:
            ex.warm_up(("nasoa.app.adapt", "nasoa.app.bohb", "nasoa.core.train", "nasoa.app.workflow", "nasoa.meta.metamodel",
                        "lightgbm", "river", "torchvision", "timm"))
        while jobs or ex.pending():
            for job in list(jobs):
                if ex.pending() >= ex.slots:
                    break
                kind, ti, spec, b, strategy, snap = job
                work = out / "work" / f"t{ti}-{b:g}s-{strategy or 'ratio'}" if local else None
                if kind == "row":
                    jobs.remove(job)
                    ex.submit(job, row_job, spec, ti, b, strategy, seed, snapshots[snap], work)
                    flying.add((ti, b, strategy))
                elif (ti, b, "nasoa") not in flying:  # its nasoa row is done (or not asked for)
                    jobs.remove(job)
                    acc = nasoa_accuracy(spec, b)
                    if acc is not None:
                        ex.submit(job, ratio_job, spec, ti, b, seed, bohb_multiple, acc, snapshots[snap], work)
            if not ex.pending():
                continue
            outcome = ex.next_done()
            kind, ti, spec, b, strategy, _ = outcome.key
            where = {} if local else {"executor": ex.name, "queue_s": outcome.queue_s, "worker": outcome.worker}
            if kind == "row":
                flying.discard((ti, b, strategy))
                row = outcome.value if outcome.ok else {
                    "protocol": PROTOCOL, "task": spec, "task_index": ti, "budget_s": b, "strategy": strategy,
                    "error": f"the row could not run: {outcome.error}"}
                _append_jsonl(rows_file, {**row, **where})
                if "error" in row:
                    log(f"task {ti} {b:g}s {strategy:8s} failed: {row['error']}")
                else:
                    log(f"task {ti} {b:g}s {strategy:8s} {row['model']:<28} val {row['val_accuracy']:.4f} "
                        f"test {row['test_accuracy']:.4f} ({row['wall_s']:.1f}s)")
                continue
            if not outcome.ok:
                log(f"task {ti} {b:g}s: BOHB's ratio could not run: {outcome.error}")
                continue
            r = outcome.value
            _append_jsonl(ratios_file, {**r, **where})
            need = r["bohb_compute_to_reach_s"]
            log(f"task {ti} {b:g}s: BOHB reached nasoa's {r['nasoa_accuracy']:.4f} after "
                + (f"{need:.0f}s ({need / b:.1f}x)" if need is not None else f"never in {r['bohb_compute_s']:.0f}s"))
    try:
        (out / "work").rmdir()  # gone when empty: another shard may still be using it
    except OSError:
        pass
    result = report(out)
    log(f"report: {out / 'adapt.md'}, {out / 'adapt.png'}, {out / 'adapt.json'}")
    return result


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
    from nasoa.core.runtime import atomic_write_bytes, atomic_write_json

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
    import numpy as np

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
