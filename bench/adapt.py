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

import importlib
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nasoa.core.errors import NasoaError
from nasoa.app.adapt import adapt
from nasoa.app.bohb import bohb_search
from nasoa.app.executor import LocalExecutor
from nasoa.app.predict import load_run
from nasoa.core.data import Batches, load_task, load_test
from nasoa.core.families import lineage_of
from nasoa.core.train import evaluate
from nasoa.meta.metamodel import MetaModel
from nasoa.zoo import profiled_records

from .adapt_report import report
from .adapt_store import (PROTOCOL, STRATEGIES, _append_jsonl, _drop_torn_tail, _read_jsonl, _row_key, _scratch,
                          _start_from, seed_store, snapshot_files, store_state)

# Strategies whose rows read neither the store nor the meta-model.
STORELESS = ("practice",)


def task_stream(n: int, seed: int = 0) -> list[str]:
    """``n`` task specs cut from the built-ins outside the zoo's source (MNIST and Fashion-MNIST, and
    MNIST-5k, a subset of MNIST train, are the zoo's pretraining data, so never downstream tasks)."""
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


def _warm_up(seed_path: Path) -> None:
    """Pay the process's one-off costs before any row: module imports (torchvision and timm build
    the ImageNet members) and the meta-model's back-ends (imported on load)."""
    for name in ("nasoa.app.collect", "nasoa.app.bohb", "nasoa.core.train", "nasoa.app.workflow", "torchvision", "timm"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    MetaModel.load(seed_path, zoo=profiled_records()).store.close()


def test_accuracy(run_dir: Path, spec: str, seed: int) -> float:
    """Accuracy of a run dir's fine-tuned model on the task's held-out test split."""
    model, classes, mspec = load_run(run_dir)
    test = load_test(spec, seed=seed).resized(int(mspec["input_size"]))
    if list(test.classes) != list(classes):
        raise NasoaError(f"the test split of {spec} has other classes than the run in {run_dir}")
    batches = Batches(test.x_val, test.y_val, batch_size=256, shuffle=False, augment=False,
                      mean=tuple(mspec.get("mean", (0.5,) * 3)), std=tuple(mspec.get("std", (0.5,) * 3)), channels=3)
    return evaluate(model, batches.epoch(0), "cpu")[0]


def row_job(spec: str, ti: int, b: float, strategy: str, seed: int, snapshot: Path | dict[str, bytes],
            work: Path | None) -> dict[str, Any]:
    """One (task, budget, strategy) row, from a private copy of the snapshot in ``work`` (removed
    after): what an executor runs. A strategy's NasoaError is the row's result, not a crash."""
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
               "probe_trials": m.get("probe_trials"), "time_model": m.get("time_model")}
        if strategy == "bohb":
            row["bohb_trials"] = len(m["bohb"]["trials"])
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)  # weights and the store copy are not results


def ratio_job(spec: str, ti: int, b: float, seed: int, bohb_multiple: int, nasoa_accuracy: float,
              snapshot: Path | dict[str, bytes], work: Path | None) -> dict[str, Any]:
    """BOHB with ``bohb_multiple`` x the budget on the task, from a private copy of the snapshot: how
    much compute it needs to reach nasoa's one-shot validation accuracy. What an executor runs."""
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
        todo += [(b, "ratio") for b in budgets if b in ratio_budgets and (spec, float(b)) not in done_ratio]
        task_seed_path = seed_path
        # A ratio alone needs the held-out snapshot too; practice alone needs none (it reads no store), and
        # building one fits a meta-model (minutes) for nothing.
        if hold_out_family and any(s not in STORELESS for _, s in todo):
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

