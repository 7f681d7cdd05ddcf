"""The provenance each suite stores beside its numbers (:func:`nasoa.core.provenance.provenance`, the
record zoo members and saved models carry too), so a table is never read without the machine and
software it came from; :func:`fields` gives reports its values by short names."""

from __future__ import annotations

from typing import Any

from nasoa.core.provenance import provenance

__all__ = ["provenance", "fields"]


def fields(record: dict[str, Any]) -> dict[str, Any]:
    """A provenance record's values by the names reports print: ``date``, ``cpu``, ``cpu_cores``,
    ``torch_threads``, ``gpu`` (the accelerator's details or None), ``python``, ``torch``,
    ``triton``, ``numpy``, ``nasoa``, ``git``. Results saved before the one record (flat, with
    those names already) pass through."""
    if "versions" not in record:
        return record
    m, v = record.get("machine") or {}, record["versions"]
    return {"date": record.get("date"), "platform": m.get("platform"), "cpu": m.get("cpu"),
            "cpu_cores": m.get("cores"), "torch_threads": m.get("torch_threads"), "gpu": m.get("accelerator"),
            **{k: v.get(k) for k in ("python", "torch", "triton", "numpy", "nasoa")},
            "git": record.get("git"), "env": record.get("env")}
