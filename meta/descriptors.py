"""Model descriptors: a zoo member as a flat feature dict, from the member records its caller hands
over (the application passes ``nasoa.zoo.profiled_records()``; the meta-model never reads the zoo).

Every numeric field of a record becomes a ``model_*`` feature (params and MACs on a log10 scale),
the family and name are categorical, so a new member is new values and a new measured stat is a
new key, never new code here. The per-frozen-stage ``train_step_ms`` table (and the batch it was
measured at) travels along under private keys (``_train_step_ms``, ``_train_step_batch``) for the
time model; it is a function of the regime, so the features derive ``step_ms`` from it per row.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["descriptor", "descriptors", "forward_ratio", "nearest_setting", "machine_factor", "MemberTable",
           "ENV_MACHINE_FACTOR"]

ENV_MACHINE_FACTOR = "NASOA_MACHINE_FACTOR"
# Calibrated time-model terms of a record (:data:`nasoa.meta.timing.TIME_TERMS`) -> the private
# descriptor keys and candidate columns :func:`nasoa.meta.features.derive` reads (null: its default).
_TIME_TERMS = {"train_step_batch_exponent": "_step_batch_exp", "train_step_size_exponent": "_step_size_exp",
               "train_setup_s": "_setup_s",
               "train_eval_factor": "_eval_factor", "train_step_excess": "_step_excess",
               "train_stop_steps": "_stop_steps", "train_step_batch_size_exponent": "_step_batch_size_exp",
               "train_step_size_above_exponent": "_step_size_above_exp"}
_LOG_KEYS = ("params", "macs")
# Record fields that are not features of the member (bookkeeping, or handled specially).
_SKIP = {"name", "family", "encoding", "mean", "std", "source", "train_step_ms", "train_step_batch", "provenance",
         "profiled_step_ms", "train_step_batch_exponent", "train_step_size_exponent", "train_setup_s",
         "train_eval_factor", "train_step_excess", "train_stop_steps", "train_step_size_exponents",
         "train_step_batch_size_exponent", "train_step_size_above_exponent", "transfer_image_ms", "weights",
         "origin", "source_accuracy_split", "pretrain", "notes", "reference_step", "calibration", "max_input_size"}


def _source_kind(source: Any) -> str:
    s = str(source or "unknown")
    return s.split(" (")[0].strip()[:60] or "unknown"


def descriptor(record: Mapping[str, Any]) -> dict[str, Any]:
    """A member record -> ``{"model_name": ..., "model_family": ..., "model_params_log10": ...}``."""
    out: dict[str, Any] = {
        "model_name": str(record["name"]),
        "model_family": str(record.get("family") or "etnas"),
        "model_source": _source_kind(record.get("source")),
    }
    for key, value in record.items():
        if key in _SKIP or key.startswith("_") or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and math.isfinite(float(value)):
            if key in _LOG_KEYS:
                out[f"model_{key}_log10"] = math.log10(max(float(value), 1.0))
            else:
                out[f"model_{key}"] = float(value)
    table = {str(k): float(v) for k, v in (record.get("train_step_ms") or {}).items()}
    # The member's cost as a feature comes from the profiled table, which is the same on every
    # machine (the shipped one, where ``nasoa zoo profile`` measured this machine's over it); the
    # time model's table (``_train_step_ms``) may be calibrated to this machine.
    reference = (record.get("reference_step") or {}).get("train_step_ms")
    profiled = {str(k): float(v) for k, v in (record.get("profiled_step_ms") or reference or table).items()}
    if table:
        keys = sorted(profiled, key=int)
        out["model_num_stages"] = float(int(keys[-1]))
        out["model_step_ms_full"] = profiled[keys[0]]  # every stage trained
        out["model_step_ms_head"] = profiled[keys[-1]]  # all stages frozen
    out["_train_step_ms"] = table
    out["_train_step_batch"] = float(record.get("train_step_batch") or 64)
    # The largest side a regime grid may run the member at (an ImageNet member: the side it was pretrained
    # at, above the one it was profiled at); not a feature: the side a run trains at is (``input_size``).
    if record.get("max_input_size") is not None:
        out["_max_input_size"] = float(record["max_input_size"])
    # The time model's terms calibrated on this machine (:mod:`nasoa.meta.timing`), when learned.
    for key, private in _TIME_TERMS.items():
        if record.get(key) is not None:
            out[private] = float(record[key])
    if record.get("train_step_size_exponents"):  # the size exponent of each frozen setting, learnt here
        out["_step_size_exps"] = {str(k): float(v) for k, v in record["train_step_size_exponents"].items()}
    if record.get("transfer_image_ms") is not None:  # its scoring cost per image, measured here
        out["_transfer_image_ms"] = float(record["transfer_image_ms"])
    prov = record.get("provenance") or {}
    out["_machine"] = {k: (prov.get("machine") or {}).get(k) for k in ("cpu", "cores")}
    return out


def descriptors(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [descriptor(r) for r in records]


def machine_factor(default: float = 1.0) -> float:
    """A user's override of the time model's speed (``$NASOA_MACHINE_FACTOR``: >1 is slower than
    the step-time tables say), else ``default``. The tables themselves are calibrated to this
    machine from measured runs (:mod:`nasoa.meta.timing`)."""
    env = os.environ.get(ENV_MACHINE_FACTOR)
    if env:
        try:
            v = float(env)
            if v > 0:
                return v
        except ValueError:
            pass
    return default


def nearest_setting(table: Mapping[str, Any], frozen: int) -> str:
    """The key of ``table`` (frozen stages -> a value) nearest ``frozen`` (the lower one on a tie)."""
    return str(min((int(k) for k in table), key=lambda j: (abs(j - int(frozen)), j)))


def forward_ratio(table: Mapping[str, float], frozen: int) -> float:
    """A forward pass over a batch, in steps at ``frozen`` frozen stages: the step with every stage
    frozen (the head alone trains: little more than the forward pass) over the step at ``frozen``.
    What the final evaluation costs scales with it, not with the run's own step: a run that trains
    every stage steps at about three forward passes, one with every stage frozen at about one. Priced
    at the run's own step, plans at 128 px with frozen stages ran 22% long (median;
    bench/results/photos-side-20261206/overhead.txt). 1.0 without a table."""
    if not table:
        return 1.0
    own = float(table[nearest_setting(table, frozen)])
    head = float(table[str(max(int(k) for k in table))])
    return head / own if own > 0 and head > 0 else 1.0


class MemberTable:
    """The zoo's members as columns (for vectorised candidate building), built once per zoo."""

    def __init__(self, records: Sequence[Mapping[str, Any]]):
        self.descriptors = [descriptor(r) for r in records if r.get("train_step_ms")]
        self.names = [d["model_name"] for d in self.descriptors]
        keys: list[str] = []
        for d in self.descriptors:
            keys += [k for k in d if k.startswith("model_") and k not in keys]
        self.feature_keys = keys
        self.columns: dict[str, list[Any]] = {k: [d.get(k) for d in self.descriptors] for k in keys}
        self.frozen: list[np.ndarray] = []
        self.step_ms: list[np.ndarray] = []
        self.forward: list[np.ndarray] = []  # a forward pass in steps at each frozen setting (forward_ratio)
        self.size_exp: list[np.ndarray] = []  # each frozen setting's calibrated size exponent (NaN: the member's)
        for d in self.descriptors:
            table = d["_train_step_ms"]
            ks = sorted(int(k) for k in table)
            self.frozen.append(np.array(ks, dtype=np.int64))
            self.step_ms.append(np.array([table[str(k)] for k in ks], dtype=np.float64))
            self.forward.append(np.array([forward_ratio(table, k) for k in ks], dtype=np.float64))
            exps = d.get("_step_size_exps") or {}
            self.size_exp.append(np.array([exps.get(str(k), np.nan) for k in ks], dtype=np.float64))
        self.step_batch = np.array([d["_train_step_batch"] for d in self.descriptors], dtype=np.float64)
        self.max_side = np.array([d.get("_max_input_size", np.nan) for d in self.descriptors], dtype=np.float64)
        # Calibrated time-model terms per member (NaN where not learned: derive uses its default).
        self.time_terms = {c: np.array([d.get(c, np.nan) for d in self.descriptors], dtype=np.float64)
                           for c in _TIME_TERMS.values()}

    def __len__(self) -> int:
        return len(self.descriptors)

    def by_name(self, name: str) -> dict[str, Any] | None:
        for d in self.descriptors:
            if d["model_name"] == name:
                return d
        return None
