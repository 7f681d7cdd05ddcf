"""The search's driver: offline multi-objective NAS over the ET-NAS space (``nasoa search``).

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
in flight. Candidates run on a :mod:`nasoa.app.executor` executor (by default local worker
processes, :class:`~nasoa.app.executor.ProcessExecutor`; Ray with ``--executor ray``), which keeps
as many in flight as it has slots; workers never open the table.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Callable

from nasoa.app.executor import Executor, ProcessExecutor
from nasoa.app.search.config import SearchConfig
from nasoa.app.search.evaluate import evaluate_or_fail
from nasoa.app.search.mutation import mutate
from nasoa.app.search.outputs import SearchReport, write_outputs
from nasoa.app.search.pareto import pareto_front, tournament
from nasoa.app.search.store import SearchStore
from nasoa.core.errors import NasoaError
from nasoa.core.space import Architecture, Block, count_cost, parse, parse_macro, sample_block, sample_macro

__all__ = ["run_search"]


def _skeleton(cfg: SearchConfig, block: Block) -> Architecture:
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
                    p = tournament(done, rng)
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
            p = tournament(done, rng)
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
    ex = executor or ProcessExecutor()
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
