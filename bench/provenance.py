"""Where and when a benchmark ran: machine, accelerator, versions, date, git commit.

Every suite stores :func:`provenance` beside its numbers, so a table is never read without the
machine and software it came from. Cheap and safe everywhere: no GPU, no git or no triton only
leave the matching fields ``None``; triton's version is read from package metadata, not imported.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path

from nasoa.runtime import cpu_model

__all__ = ["provenance", "cpu_model", "git_commit"]

_REPO = Path(__file__).resolve().parents[1]
_ENV_KEYS = ("NASOA_KERNELS", "TRITON_INTERPRET", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> dict | None:
    """``{"commit": sha, "dirty": bool}`` of the source checkout nasoa runs from, if it is one."""
    if not (_REPO / ".git").exists():
        return None
    sha = _run(["git", "rev-parse", "HEAD"], _REPO)
    if sha is None:
        return None
    status = _run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"], _REPO)
    return {"commit": sha, "dirty": bool(status)}


def _gpu() -> dict | None:
    import torch

    if not torch.cuda.is_available():
        return None
    i = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(i)
    driver = _run(["nvidia-smi", f"--id={i}", "--query-gpu=driver_version", "--format=csv,noheader"])
    return {
        "name": props.name,
        "count": torch.cuda.device_count(),
        "memory_gib": round(props.total_memory / 2**30, 1),
        "multiprocessors": props.multi_processor_count,
        "capability": f"{props.major}.{props.minor}",
        "driver": driver,
        "cuda": torch.version.cuda,
    }


def provenance() -> dict:
    """Date (UTC, ISO 8601), host, platform, CPU, GPU, Python and package versions, git commit."""
    import torch

    try:
        import nasoa

        nasoa_version = nasoa.__version__
    except Exception:  # noqa: BLE001 - provenance must never fail a benchmark
        nasoa_version = _version("nasoa")
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": _gpu(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "triton": _version("triton"),
        "numpy": _version("numpy"),
        "nasoa": nasoa_version,
        "git": git_commit(),
        "env": {k: os.environ[k] for k in _ENV_KEYS if k in os.environ},
    }
