"""Bring a store's cached task features up to the current definitions (``nasoa meta
refresh``): each stale task is cut again from its spec and its meta-features and
every member's transferability scores are recomputed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nasoa.app.collect_plan import pretrained_members
from nasoa.app.transfer import penultimate_features
from nasoa.core.data import DataError, load_task
from nasoa.meta.features import TRANSFER_IMAGES, TRANSFER_SCORES, task_id, task_meta_features, transfer_scores
from nasoa.meta.store import ExperienceStore


def refresh_features(store, *, force: bool = False, on_event: Callable[[dict[str, Any]], None] | None = None,
                     ) -> dict[str, Any]:
    """Recompute the features of the store's tasks whose stored features predate the current
    definitions (no k-NN scores, a dataset identity, a member without scores), from each task's
    spec: the task is cut again exactly as when it was collected. With ``force``, every task.
    Tasks whose data cannot be loaded here, or no longer match their id, are left as they are and
    reported. Returns counts."""
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
