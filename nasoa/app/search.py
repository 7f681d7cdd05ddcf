"""Offline multi-objective NAS over the ET-NAS space (``nasoa search``).

Objective 1 is the validation accuracy after a short proxy training (the same number of epochs for
every candidate, capped in wall-clock time, through :func:`nasoa.core.train.finetune`); objective 2 is the measured training
step time (forward + backward + SGD step, median after warm-up, at the zoo's batch and input size).

Two phases as in NASOA: **block level** (candidate blocks inside a fixed macro skeleton), then
**macro level** (depth, where to downsample, where to double channels, stem width) around the best
blocks. Both are evolutionary with Pareto selection: a parent is drawn by binary tournament on
(non-domination rank, crowding distance) from the evaluated candidates and mutated once; a share
of proposals is random (vega's DnetNas does the same with ``random_ratio``). Duplicates are never
evaluated, and candidates over the parameter or step-time limits are rejected before training.

Every evaluated candidate is a row in ``search.sqlite`` in the search dir, committed by the driver as
soon as it finishes: re-running continues where it stopped and Ctrl-C loses at most the candidates
in flight. Candidates run through an executor (local worker processes by default, or
:mod:`nasoa.app.executor`'s, Ray included), which keeps as many in flight as it has slots; workers
never open the table.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import random
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from nasoa.core.errors import NasoaError
from nasoa.core.figures import figure, save_png
from nasoa.core.runtime import atomic_write_bytes, atomic_write_json, machine, utc_now, versions
from nasoa.core.space import Architecture, Constraints, count_cost, mutate, parse, sample_block, sample_macro

__all__ = ["SearchConfig", "Executor", "LocalExecutor", "InlineExecutor", "run_search", "pareto_front", "SearchStore"]


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search; stored with it, so a resumed search uses the same."""

    source: str = "builtin:mnist+fashion?per_class=150&size=32"
    # The proxy is a fixed number of epochs (as vega's DnetNas trains 1-2 epochs per candidate),
    # capped in time. A fixed *time* proxy lets the smallest networks win both objectives (they
    # fit more epochs in the same seconds), which collapses the front to a few tiny members.
    proxy_epochs: float = 3.0
    proxy_budget_s: float = 45.0
    proxy_lr: float = 0.05
    batch_size: int = 64
    input_size: int = 32
    block_candidates: int = 28
    macro_candidates: int = 36
    skeleton_c0: int = 16
    skeleton_macro: str = "1-21-21-2"
    top_blocks: int = 2
    max_params: int = 4_000_000
    max_step_ms: float = 400.0
    random_ratio: float = 0.3
    min_random: int = 6
    seed: int = 0
    c0_choices: tuple[int, ...] = (8, 16, 24, 32)
    min_depth: int = 4
    max_depth: int = 14
    n_downsamples: tuple[int, ...] = (2, 3)
    max_layers: int = 3
    max_skips: int = 2

    def block_constraints(self) -> Constraints:
        return Constraints(
            max_layers=self.max_layers, max_skips=self.max_skips, c0_choices=(self.skeleton_c0,),
            min_depth=1, max_depth=64, n_downsamples=tuple(range(0, 8)), max_channels=4096,
            max_params=self.max_params, params_input_size=self.input_size, params_num_classes=20,
        )

    def macro_constraints(self) -> Constraints:
        return Constraints(
            max_layers=self.max_layers, max_skips=self.max_skips, c0_choices=self.c0_choices,
            min_depth=self.min_depth, max_depth=self.max_depth, n_downsamples=self.n_downsamples,
            n_doublings=(1, 2, 3, 4), first_multipliers=(1, 2), max_channels=512,
            max_params=self.max_params, params_input_size=self.input_size, params_num_classes=20,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SearchConfig":
        d = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**d)


# --------------------------------------------------------------------------------------------------
# Pareto utilities (maximise accuracy, minimise step time)
# --------------------------------------------------------------------------------------------------


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def nondominated_ranks(points: list[tuple[float, float]]) -> list[int]:
    """Rank 0 for the Pareto front, 1 for the front of the rest, ... (NSGA-II sorting)."""
    n = len(points)
    ranks = [-1] * n
    remaining = set(range(n))
    r = 0
    while remaining:
        front = {i for i in remaining if not any(_dominates(points[j], points[i]) for j in remaining if j != i)}
        for i in front:
            ranks[i] = r
        remaining -= front
        r += 1
    return ranks


def crowding(points: list[tuple[float, float]], idx: list[int]) -> dict[int, float]:
    """NSGA-II crowding distance of each index within one front."""
    dist = {i: 0.0 for i in idx}
    for k in (0, 1):
        order = sorted(idx, key=lambda i: points[i][k])
        lo, hi = points[order[0]][k], points[order[-1]][k]
        dist[order[0]] = dist[order[-1]] = math.inf
        if hi == lo:
            continue
        for a, b, c in zip(order, order[1:], order[2:]):
            dist[b] += (points[c][k] - points[a][k]) / (hi - lo)
    return dist


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The non-dominated rows (accuracy up, step_ms down), sorted by step time."""
    pts = [(r["accuracy"], r["step_ms"]) for r in rows]
    ranks = nondominated_ranks(pts)
    return sorted((r for r, k in zip(rows, ranks) if k == 0), key=lambda r: r["step_ms"])


def _tournament(rows: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    pts = [(r["accuracy"], r["step_ms"]) for r in rows]
    ranks = nondominated_ranks(pts)
    crowd: dict[int, float] = {}
    for rank in set(ranks):
        crowd.update(crowding(pts, [i for i, k in enumerate(ranks) if k == rank]))
    a, b = rng.randrange(len(rows)), rng.randrange(len(rows))
    better = a if (ranks[a], -crowd[a]) <= (ranks[b], -crowd[b]) else b
    return rows[better]


# --------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------


class SearchStore:
    """``search.sqlite``: one row per candidate, committed when it finishes (WAL, atomic)."""

    COLUMNS = ("id", "phase", "encoding", "parent", "how", "status", "accuracy", "step_ms", "params",
               "macs", "proxy_steps", "eval_s", "error", "created")

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS candidates (id INTEGER PRIMARY KEY, phase TEXT NOT NULL, "
                "encoding TEXT NOT NULL UNIQUE, parent TEXT, how TEXT, status TEXT NOT NULL, accuracy REAL, "
                "step_ms REAL, params INTEGER, macs INTEGER, proxy_steps INTEGER, eval_s REAL, error TEXT, "
                "created TEXT NOT NULL)"
            )
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self.db.commit()
        except sqlite3.DatabaseError as e:
            raise NasoaError(f"the search table {self.path} is corrupt ({e}); move it away to start a new search") from None

    def config(self) -> dict[str, Any] | None:
        row = self.db.execute("SELECT value FROM meta WHERE key='config'").fetchone()
        return json.loads(row[0]) if row else None

    def set_config(self, cfg: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('config', ?)", (json.dumps(cfg),))

    def rows(self, phase: str | None = None, status: str | None = "done") -> list[dict[str, Any]]:
        q = "SELECT * FROM candidates WHERE 1=1"
        args: list[Any] = []
        if phase:
            q += " AND phase=?"
            args.append(phase)
        if status:
            q += " AND status=?"
            args.append(status)
        cur = self.db.execute(q + " ORDER BY id", args)
        return [dict(zip(self.COLUMNS, r)) for r in cur.fetchall()]

    def encodings(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT encoding FROM candidates")}

    def add(self, row: dict[str, Any]) -> None:
        cols = [c for c in self.COLUMNS if c != "id"]
        row = {**row, "created": row.get("created") or utc_now()}
        with self.db:
            self.db.execute(
                f"INSERT OR REPLACE INTO candidates ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [row.get(c) for c in cols],
            )

    def close(self) -> None:
        self.db.close()


# --------------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------------


class Executor(Protocol):
    """Runs candidate evaluations; a distributed engine implements the same two methods."""

    def submit(self, fn: Callable[..., dict], *args: Any) -> cf.Future: ...

    def shutdown(self, cancel: bool = False) -> None: ...


def _die_with_driver(driver_pid: int) -> None:
    """Worker initializer: on Linux, the worker is killed when the driver dies. A SIGKILLed search
    (the OOM killer, ``kill -9``) left its idle worker behind, and the re-run of the search waited
    on it until killed."""
    import os

    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != driver_pid:  # the driver died before the line above
        os._exit(1)


class LocalExecutor:
    """Local worker processes (spawned: the driver never imports torch); 1 worker by default, since
    one training run already uses every core. Workers die with the driver."""

    def __init__(self, workers: int = 1):
        import multiprocessing as mp
        import os

        self.workers = workers
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                           initializer=_die_with_driver, initargs=(os.getpid(),))

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def shutdown(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class InlineExecutor:
    """Evaluates in the calling process (tests, debugging)."""

    workers = 1

    def submit(self, fn, *args):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args))
        except BaseException as e:  # KeyboardInterrupt must reach the driver too
            if isinstance(e, KeyboardInterrupt):
                raise
            fut.set_exception(e)
        return fut

    def shutdown(self, cancel: bool = False) -> None:
        pass


class _FutureRuns:
    """A search :class:`Executor` (``submit`` -> Future) seen through :mod:`nasoa.app.executor`'s
    interface, so one driver loop keeps ``workers`` candidates in flight on either."""

    name = "local"

    def __init__(self, ex: Executor):
        self.ex = ex
        self.slots = max(1, int(getattr(ex, "workers", 1)))
        self._futures: dict[cf.Future, tuple[Any, float]] = {}

    def submit(self, key: Any, fn: Callable[..., dict], *args: Any) -> None:
        self._futures[self.ex.submit(fn, *args)] = (key, time.time())

    def pending(self) -> int:
        return len(self._futures)

    def next_done(self):
        from nasoa.app.executor import Outcome

        done, _ = cf.wait(list(self._futures), return_when=cf.FIRST_COMPLETED)
        fut = next(iter(done))
        key, submitted = self._futures.pop(fut)
        try:
            value = fut.result()
        except Exception as e:  # the worker process died (a broken pool): the candidate failed
            return Outcome(key=key, submitted=submitted, error=f"{type(e).__name__}: {_first_line(e)}")
        return Outcome(key=key, value=value, submitted=submitted)

    def cancel_all(self) -> None:
        self._futures.clear()
        self.ex.shutdown(cancel=True)

    def close(self) -> None:
        self.ex.shutdown()


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else ""


# --------------------------------------------------------------------------------------------------
# Candidate evaluation (runs in a worker)
# --------------------------------------------------------------------------------------------------

_TASK_CACHE: dict[tuple[str, int], Any] = {}


def evaluate_candidate(encoding: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Measure step time, then proxy-train; returns the row's measured fields."""
    import torch

    from nasoa.core.data import load_task
    from nasoa.core.net import ETNasNet
    from nasoa.core.profile import measure_train_step
    from nasoa.core.train import Regime, finetune

    c = SearchConfig.from_dict(cfg)
    key = (c.source, c.seed)
    if key not in _TASK_CACHE:
        _TASK_CACHE[key] = load_task(c.source, seed=c.seed).resized(c.input_size)
    task = _TASK_CACHE[key]
    t0 = time.time()
    torch.manual_seed(c.seed)
    net = ETNasNet(encoding, num_classes=task.num_classes, input_size=c.input_size)
    st = measure_train_step(net, c.batch_size, c.input_size, task.num_classes, warmup=2, repeats=7, max_seconds=6)
    if st.median_ms > c.max_step_ms:
        return {"status": "rejected", "step_ms": st.median_ms, "error": f"step {st.median_ms:.0f} ms > {c.max_step_ms:.0f}",
                "eval_s": time.time() - t0}
    torch.manual_seed(c.seed)
    net = ETNasNet(encoding, num_classes=task.num_classes, input_size=c.input_size)
    regime = Regime(lr=c.proxy_lr, batch_size=c.batch_size, schedule="cosine", weight_decay=5e-4, epochs=c.proxy_epochs)
    res = finetune(net, task, regime, c.proxy_budget_s, seed=c.seed, progress=False, hflip=False)
    status = "done" if not res.diverged else "diverged"
    return {
        "status": status,
        "accuracy": res.val_accuracy if not res.diverged else 0.0,
        "step_ms": st.median_ms,
        "proxy_steps": res.steps,
        "eval_s": time.time() - t0,
    }


def evaluate_or_fail(encoding: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """:func:`evaluate_candidate`, with a candidate that raises recorded as failed (the search goes
    on); what executors run."""
    try:
        return evaluate_candidate(encoding, cfg)
    except Exception as e:  # noqa: BLE001 - any crash of one candidate is that candidate's result
        return {"status": "failed", "error": f"{type(e).__name__}: {_first_line(e)}"}


# --------------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------------


@dataclass
class SearchReport:
    search_dir: str
    evaluated: int
    new: int
    rejected: int
    failed: int
    elapsed_s: float
    stop_reason: str
    front: list[dict[str, Any]] = field(default_factory=list)


def _skeleton(cfg: SearchConfig, block) -> Architecture:
    from nasoa.core.space import parse_macro

    return Architecture(block, cfg.skeleton_c0, parse_macro(cfg.skeleton_macro))


def _propose(cfg: SearchConfig, store: SearchStore, phase: str, rng: random.Random, seen: set[str]) -> tuple[str, str | None, str]:
    """Next candidate (encoding, parent, how) for ``phase``; never one already in the table."""
    done = store.rows(phase)
    if phase == "block":
        cons = cfg.block_constraints()
        for _ in range(500):
            try:
                if len(done) < cfg.min_random or rng.random() < cfg.random_ratio:
                    arch, parent, how = _skeleton(cfg, sample_block(rng, cons)), None, "random"
                else:
                    p = _tournament(done, rng)
                    arch, parent, how = mutate(parse(p["encoding"]), rng, "block", cons), p["encoding"], "mutate-block"
            except (NasoaError, RuntimeError):  # a block that does not fit the skeleton's channels
                continue
            if arch.encoding not in seen and cons.check(arch) is None:
                return arch.encoding, parent, how
        raise NasoaError("the block phase cannot find a new candidate; widen the constraints")
    blocks = [parse(r["encoding"]).block for r in sorted(pareto_front(store.rows("block")), key=lambda r: -r["accuracy"])]
    if not blocks:
        raise NasoaError("the macro phase needs finished block-phase candidates; run the block phase first")
    blocks = blocks[: cfg.top_blocks]
    cons = cfg.macro_constraints()
    for _ in range(500):
        if len(done) < cfg.min_random or rng.random() < cfg.random_ratio:
            block = rng.choice(blocks)
            c0 = rng.choice(cfg.c0_choices)
            try:
                arch = Architecture(block, c0, sample_macro(rng, cons, c0))
            except (NasoaError, RuntimeError):
                continue
            parent, how = None, "random"
        else:
            p = _tournament(done, rng)
            base = parse(p["encoding"])
            if rng.random() < 0.2:  # channel size is part of the macro space
                c0 = rng.choice([c for c in cfg.c0_choices if c != base.c0] or [base.c0])
                try:
                    arch = Architecture(base.block, c0, base.macro)
                except NasoaError:
                    continue
                how = "mutate-c0"
            else:
                try:
                    arch = mutate(base, rng, "macro", cons)
                except RuntimeError:
                    continue
                how = "mutate-macro"
            parent = p["encoding"]
        if arch.encoding not in seen and cons.check(arch) is None:
            return arch.encoding, parent, how
    raise NasoaError("the macro phase cannot find a new candidate; widen the constraints")


def run_search(
    search_dir: str | Path,
    cfg: SearchConfig | None = None,
    budget_s: float = 3600.0,
    executor: Executor | None = None,
    log: Callable[[str], None] | None = None,
    start_time: float | None = None,
) -> SearchReport:
    """Run (or continue) the two-phase search in ``search_dir`` until both phases have their
    candidates or the budget ends. Returns what happened; the table and plots are in the dir."""
    start = start_time if start_time is not None else time.time()
    sdir = Path(search_dir)
    store = SearchStore(sdir / "search.sqlite")
    stored = store.config()
    if stored is not None:
        if cfg is not None and SearchConfig.from_dict(stored) != cfg:
            changed = [k for k, v in cfg.to_dict().items() if stored.get(k) != (list(v) if isinstance(v, tuple) else v)]
            raise NasoaError(
                f"{sdir} holds a search with other settings ({', '.join(changed)}); continue it without those "
                f"options or use a new --out dir"
            )
        cfg = SearchConfig.from_dict(stored)
    else:
        cfg = cfg or SearchConfig()
        store.set_config(cfg.to_dict())
    log = log or (lambda s: None)
    owned = executor is None
    given = executor or LocalExecutor()
    # nasoa.app.executor's executors (local, Ray) as they are; a search Executor through an adapter.
    ex = given if hasattr(given, "next_done") else _FutureRuns(given)
    seen = store.encodings()
    new = rejected = failed = 0
    stop = "complete"
    est = min(cfg.proxy_budget_s, 20.0) + 8.0  # refined from measured candidate times
    costs: list[float] = []
    flying: dict[str, int] = {"block": 0, "macro": 0}  # candidates in flight per phase

    def record(out) -> None:
        nonlocal new, rejected, failed, est
        phase, row, t = out.key
        if out.ok:
            result = out.value
        else:  # its worker was lost (SIGKILL, out of memory) on every attempt
            result = {"status": "failed", "error": out.error}
        flying[phase] -= 1
        costs.append(time.time() - t)
        est = max(est, sorted(costs)[len(costs) // 2] * 1.1)
        row = {**row, **result}
        store.add(row)
        new += 1
        rejected += row["status"] == "rejected"
        failed += row["status"] in ("failed", "diverged")
        acc = row.get("accuracy")
        target = cfg.block_candidates if phase == "block" else cfg.macro_candidates
        log(
            f"[{phase} {len(store.rows(phase))}/{target}] {row['encoding']}  "
            + (f"acc {acc:.4f}  " if acc is not None else "")
            + (f"step {row['step_ms']:.1f} ms  " if row.get("step_ms") else "")
            + f"{row['status']} ({time.time() - t:.0f}s)"
        )

    try:
        for phase, target in (("block", cfg.block_candidates), ("macro", cfg.macro_candidates)):
            while len(store.rows(phase)) < target:
                while ex.pending() < ex.slots and len(store.rows(phase)) + flying[phase] < target:
                    left = budget_s - (time.time() - start)
                    if left < est:
                        stop = "budget"
                        break
                    n_rows = len(store.rows(phase, status=None)) + flying[phase]
                    rng = random.Random(f"{cfg.seed}-{phase}-{n_rows}")
                    enc, parent, how = _propose(cfg, store, phase, rng, seen)
                    seen.add(enc)
                    cost = count_cost(enc, cfg.input_size, 20)
                    row = {"phase": phase, "encoding": enc, "parent": parent, "how": how, "params": cost.params,
                           "macs": cost.macs}
                    ex.submit((phase, row, time.time()), evaluate_or_fail, enc, cfg.to_dict())
                    flying[phase] += 1
                if not ex.pending():
                    break  # the budget cannot hold another candidate
                record(ex.next_done())
            while ex.pending():  # the macro phase builds on every finished block candidate
                record(ex.next_done())
            if stop == "budget":
                break
    except KeyboardInterrupt:
        stop = "interrupted"
        ex.cancel_all()
        owned = False
    finally:
        if owned:
            ex.close()
    rows = store.rows()
    front = pareto_front(rows) if rows else []
    report = SearchReport(str(sdir), len(rows), new, rejected, failed, time.time() - start, stop, front)
    write_outputs(sdir, store, cfg, report)
    store.close()
    if stop == "interrupted":
        raise KeyboardInterrupt
    return report


def write_outputs(sdir: Path, store: SearchStore, cfg: SearchConfig, report: SearchReport, baselines: list[dict] | None = None) -> None:
    """front.md, front.csv, front.png and search.json in the search dir."""
    rows = store.rows()
    front = pareto_front(rows) if rows else []
    lines = ["| encoding | phase | val acc | step ms | params | MMACs |", "|---|---|---|---|---|---|"]
    for r in front:
        lines.append(f"| `{r['encoding']}` | {r['phase']} | {r['accuracy']:.4f} | {r['step_ms']:.1f} | {r['params']:,} | {r['macs'] / 1e6:.1f} |")
    atomic_write_bytes(sdir / "front.md", ("\n".join(lines) + "\n").encode())
    csv = ["encoding,phase,accuracy,step_ms,params,macs,on_front"]
    fset = {r["encoding"] for r in front}
    for r in rows:
        csv.append(f"{r['encoding']},{r['phase']},{r['accuracy']},{r['step_ms']},{r['params']},{r['macs']},{int(r['encoding'] in fset)}")
    atomic_write_bytes(sdir / "candidates.csv", ("\n".join(csv) + "\n").encode())
    atomic_write_json(sdir / "search.json", {
        "kind": "nasoa.app.search", "updated": utc_now(), "config": cfg.to_dict(), "seed": cfg.seed,
        "evaluated": len(rows), "this_run": asdict(report) | {"front": None}, "front": front,
        "versions": versions(), "machine": machine(),
    })
    if rows:
        plot_front(rows, front, sdir / "front.png", baselines)


def plot_front(rows, front, path: Path, baselines: list[dict] | None = None) -> None:
    fig, ax = figure(figsize=(7, 4.5), dpi=120)
    for phase, marker in (("block", "o"), ("macro", "s")):
        pts = [r for r in rows if r["phase"] == phase]
        ax.scatter([r["step_ms"] for r in pts], [r["accuracy"] for r in pts], s=18, alpha=0.45, marker=marker,
                   label=f"{phase}-level candidates ({len(pts)})")
    ax.plot([r["step_ms"] for r in front], [r["accuracy"] for r in front], "-o", color="crimson", lw=1.5, ms=5,
            label=f"Pareto front ({len(front)})")
    for b in baselines or []:
        ax.scatter([b["step_ms"]], [b["accuracy"]], marker="*", s=120, color="black")
        ax.annotate(b["name"], (b["step_ms"], b["accuracy"]), fontsize=7, xytext=(4, 2), textcoords="offset points")
    ax.set_xlabel("measured training step time (ms, batch 64, this machine)")
    ax.set_ylabel("proxy validation accuracy")
    ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save_png(fig, path)



