"""What an experience collection samples (``nasoa meta collect``): its options, the members it
can fine-tune, the task stream of a seed, and the uid that keeps each sampled run recorded once.
Run ``i`` of seed ``S`` is fully determined by ``(S, i)`` and these options.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasoa.core.data import list_builtin
from nasoa.core.errors import NasoaError
from nasoa.core.models import get_entry, is_model
from nasoa.zoo import profiled_records

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
    # The members whose regimes are sampled (zoo names); None: every pretrained member. A task's
    # transferability features are still computed for every member: they, and each member's gap to
    # the best one, describe the task whatever is fine-tuned on it.
    members: tuple[str, ...] | None = None
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
                             ("min_val_per_class", 0), ("members", None)):
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
    out = []
    for r in recs:
        if is_model(r["name"]) and get_entry(r["name"]).pretrained:
            out.append(r)
    return out


def sampled_members(members: Sequence[dict[str, Any]], names: Sequence[str] | None) -> list[dict[str, Any]]:
    """The members of ``members`` (pretrained, profiled zoo records) named in ``names`` (all where None),
    in zoo order; an unknown or unusable name is refused with the names to choose from."""
    if names is None:
        return list(members)
    have = [m["name"] for m in members]
    wanted = set(names)
    unknown = sorted(wanted - set(have))
    if unknown:
        raise NasoaError(f"--member {', '.join(unknown)}: no pretrained, profiled zoo member of that name; "
                         f"choose from {', '.join(have)} (`nasoa zoo list`)")
    return [m for m in members if m["name"] in wanted]


def checked_plan(config: CollectConfig, records: Sequence[dict[str, Any]] | None = None,
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """``(members, regime_members, sources)`` of a collection: every pretrained, profiled member (the
    task features score them all), the members whose regimes it samples, and the installed built-in
    sources it cuts tasks from. Checks every option that names something or counts something, so that
    the CLI refuses a bad one before it opens (or creates) a store, and :func:`collect` before it runs."""
    if config.runs < 0:
        raise NasoaError(f"--runs {config.runs} must be >= 0")
    if not config.budgets or min(config.budgets) <= 0:
        raise NasoaError("--budgets needs positive seconds, e.g. 10,30,60")
    members = pretrained_members(records, config.pretrained)
    if not members:
        raise NasoaError(EMPTY_ZOO)
    regime_members = sampled_members(members, config.members)
    builtin = list_builtin()
    if config.sources is not None:
        unknown = sorted(set(config.sources) - {s["name"] for s in builtin})
        if unknown:
            raise NasoaError(f"--source {', '.join(unknown)}: no built-in source or family of that name; choose "
                             f"from {', '.join(s['name'] for s in builtin)} (`nasoa data list`)")
    available = [s for s in builtin if s["available"] and (config.sources is None or s["name"] in config.sources)]
    if not available:
        raise NasoaError("no built-in data source is installed here; run `bash install.sh` (or pip install "
                         "scikit-learn for builtin:digits)")
    return members, regime_members, available


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


def run_uid(origin: str, counter_key: str, index: int) -> str:
    """The uid of sampled run ``index`` of a collection: the same on every attempt, distinct across
    stores (``origin``: the store's creation stamp) so merged stores keep every run."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"nasoa:{origin}:{counter_key}:{index}").hex
