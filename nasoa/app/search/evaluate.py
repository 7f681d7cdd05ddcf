"""Evaluating one candidate, in a worker: its measured training step time, then its proxy accuracy
after a short training (:func:`nasoa.core.train.finetune`). Arguments and result are plain data, so
any :mod:`nasoa.app.executor` can run it.
"""

from __future__ import annotations

import time
from typing import Any

from nasoa.app.search.config import SearchConfig
from nasoa.core.errors import first_line
from nasoa.core.profile import measure_train_step
from nasoa.core.train import Regime, finetune

__all__ = ["evaluate_candidate", "evaluate_or_fail"]

_TASK_CACHE: dict[tuple[str, int], Any] = {}


def evaluate_candidate(encoding: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Measure step time, then proxy-train; returns the row's measured fields."""
    import torch  # lazy: torch; only workers train, the search driver stays light

    from nasoa.core.data import load_task  # lazy: torch; only workers train, the search driver stays light
    from nasoa.core.net import ETNasNet  # lazy: torch; only workers train, the search driver stays light

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
        return {"status": "failed", "error": f"{type(e).__name__}: {first_line(e)}"}

