"""Experience stores filled with made-up runs, for tests that need a store that "says" something."""

from __future__ import annotations

from pathlib import Path


def fill_store(path: Path, spec: str, accuracies: dict[str, float], runs_each: int = 3,
               logme: dict[str, float] | None = None) -> int:
    """Append ``runs_each`` runs per member of ``accuracies`` (member -> val accuracy) on the task
    ``spec`` to the store at ``path``, and cache the task's features with ``logme``; returns the
    store's run count. Members must be in the zoo (their descriptors go into the runs)."""
    from nasoa.core.data import load_task
    from nasoa.meta.descriptors import descriptor
    from nasoa.meta.features import task_id, task_meta_features
    from nasoa.meta.store import ExperienceStore, RunRecord
    from nasoa.core.train import Regime
    from nasoa.zoo.registry import record

    task = load_task(spec)
    tid = task_id(task)
    feats = {**task_meta_features(task), "logme": dict(logme or {})}
    st = ExperienceStore(path)
    for name, acc in accuracies.items():
        model_features = {k: v for k, v in descriptor(record(name)).items() if k != "_machine"}
        for i in range(runs_each):
            regime = Regime(lr=0.1, frozen_stages=1, optimizer="sgd", schedule="step").to_dict()
            st.append(RunRecord(task_id=tid, task_spec=task.name, task_features=feats, model_name=name,
                                model_features=model_features, regime=regime, budget_s=10.0 + i,
                                val_accuracy=acc, elapsed_s=9.5, strategy="made-up", extra={"epochs": 3.0}))
    st.put_task_features(tid, feats, task.name)
    n = st.count()
    st.close()
    return n


TINY = "031-_8_1-1-21-1"  # an ET-NAS encoding small enough to fine-tune in a second or two


def tiny_member(input_size: int = 16) -> dict:
    """A zoo record of the untrained TINY member with made-up step times (collect's smoke tests)."""
    return {"name": TINY, "encoding": TINY, "family": "etnas", "input_size": input_size,
            "source": "none (smoke test)", "source_accuracy": 0.1, "params": 5000, "macs": 1e5, "depth": 4,
            "width": 8, "train_step_ms": {"0": 3.0, "1": 2.5, "2": 2.0}, "train_step_batch": 64}
