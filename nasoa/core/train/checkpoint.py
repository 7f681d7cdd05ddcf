"""A run directory's files: weights (``model.safetensors``), the resumable state
(``state.safetensors``: model and optimizer tensors), ``classes.json`` and the JSON manifest, all
written atomically; and reading them back to resume.

torch and safetensors are imported inside the functions that use them, so importing the trainer
stays fast (``nasoa --help`` imports no torch).
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import atomic_write_bytes, atomic_write_json, machine, utc_now, versions
from nasoa.core.train.regime import Regime, TrainResult

__all__ = ["save_weights", "write_manifest", "mark_running", "save_checkpoint", "load_checkpoint", "save_s_estimate"]

MANIFEST_KIND = "nasoa.train"  # the manifest format's name (not a module path)


def save_weights(model, path: Path, metadata: dict[str, str] | None = None) -> int:
    """Write the model's state_dict as safetensors atomically; returns the bytes written."""
    from safetensors.torch import save  # lazy: torch; importing nasoa.core.train stays light

    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    data = save(tensors, metadata=metadata)
    atomic_write_bytes(Path(path), data)
    return len(data)


def _state_tensors(model, optimizer) -> dict:
    """Model and optimizer tensors for a resumable checkpoint, as a flat safetensors dict."""
    out = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    out.update({f"optim.{k}": v.detach().contiguous().cpu() for k, v in optimizer.state_tensors().items()})
    return out


def _load_state_tensors(model, optimizer, tensors: dict) -> None:
    model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer.load_state_tensors({k[len("optim.") :]: v for k, v in tensors.items() if k.startswith("optim.")})


def save_s_estimate(model) -> float:
    """Seconds that saving ``model`` (weights and resumable state) is expected to take."""
    param_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return 0.05 + 3 * param_bytes / 200e6


def load_checkpoint(run_path: Path | None, model, optimizer) -> tuple[int, list[tuple[int, float]]]:
    """Load the model and optimizer state saved in ``run_path``; returns the steps done and the
    loss curve so far, from its manifest."""
    if run_path is None or not (run_path / "state.safetensors").exists():
        raise NasoaError(f"nothing to resume in {run_path}: it has no state.safetensors; run without --resume")
    from safetensors.torch import load_file  # lazy: torch; importing nasoa.core.train stays light

    try:
        _load_state_tensors(model, optimizer, load_file(run_path / "state.safetensors"))
        prev = json.loads((run_path / "manifest.json").read_text())
    except (SafetensorError, OSError, ValueError, KeyError, RuntimeError) as e:
        raise NasoaError(f"cannot resume from {run_path}: {str(e).splitlines()[0]}; start a new run dir") from None
    step = int(prev["result"]["steps"])
    loss_curve = [tuple(x) for x in prev["result"].get("loss_curve", [])]
    return step, loss_curve


def mark_running(run_path: Path, task, regime: Regime, seed: int, budget_s: float) -> None:
    """A manifest that says "running" until the run finishes: a run killed from here on leaves a dir
    that says so."""
    run_path.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_path / "manifest.json", {"kind": MANIFEST_KIND, "status": "running",
                                                   "created": utc_now(), "seed": seed,
                                                   "task": {"name": getattr(task, "name", None)},
                                                   "regime": regime.to_dict(), "budget_s": budget_s})


def save_checkpoint(run_path: Path, model, optimizer, task) -> None:
    """The weights, the resumable state and the class names (the manifest is written after)."""
    run_path.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save  # lazy: torch; importing nasoa.core.train stays light

    meta = {"encoding": str(getattr(model, "encoding", "")), "num_classes": str(task.num_classes)}
    save_weights(model, run_path / "model.safetensors", meta)
    atomic_write_bytes(run_path / "state.safetensors", save(_state_tensors(model, optimizer)))
    atomic_write_json(run_path / "classes.json", list(task.classes))


def write_manifest(run_path: Path, task, regime: Regime, result: TrainResult, seed: int, extra: dict | None) -> dict:
    """The run's JSON manifest: inputs, choices, versions, seed, timings, results."""
    manifest = {
        "kind": MANIFEST_KIND,
        "status": "interrupted" if result.stop_reason == "interrupted" else ("diverged" if result.diverged else "done"),
        "created": utc_now(),
        "seed": seed,
        "task": {
            "name": getattr(task, "name", None),
            "source": getattr(task, "source", None),
            "num_classes": task.num_classes,
            "num_train": task.num_train,
            "num_val": task.num_val,
            "image_size": task.image_size,
            "classes": list(task.classes),
        },
        "regime": regime.to_dict(),
        "result": result.to_dict(),
        "versions": versions(),
        "machine": machine(),
    }
    if extra:
        manifest.update(extra)
    atomic_write_json(run_path / "manifest.json", manifest)
    return manifest
