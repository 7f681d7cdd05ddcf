"""Where and when a result was made: one record for zoo members, benchmarks and saved models.

:func:`provenance` is the date (UTC), the machine (:func:`nasoa.core.runtime.machine`, plus torch's
thread count and the accelerator's details when torch is loaded), the package versions
(:func:`nasoa.core.runtime.versions`), the git commit of a source checkout and the environment
variables that change what runs. Cheap and safe everywhere: no GPU, no git or no torch only leave
the matching fields ``None``; it never imports torch itself.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from nasoa.core.runtime import machine, utc_now, versions

__all__ = ["provenance", "git_commit", "accelerator", "ENV_KEYS"]

_REPO = Path(__file__).resolve().parents[2]  # nasoa/core/provenance.py -> the checkout
# Environment variables that change which code runs or how many threads it gets.
ENV_KEYS = ("NASOA_KERNELS", "NASOA_THREADS", "TRITON_INTERPRET", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS",
            "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the source checkout nasoa runs from, if it is one."""
    if not (_REPO / ".git").exists():
        return None
    sha = _run(["git", "rev-parse", "HEAD"], _REPO)
    if sha is None:
        return None
    status = _run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"], _REPO)
    return {"commit": sha, "dirty": bool(status)}


def accelerator() -> dict[str, Any] | None:
    """The CUDA device torch uses (name, count, memory, SMs, capability, driver, CUDA), or None
    without torch loaded or without a GPU."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
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


def provenance() -> dict[str, Any]:
    """``{"date", "machine", "versions", "git", "env"}``: where and when a result was made."""
    torch = sys.modules.get("torch")
    return {
        "date": utc_now(),
        "machine": {**machine(), "arch": platform.machine(),
                    "torch_threads": torch.get_num_threads() if torch is not None else None,
                    "accelerator": accelerator()},
        "versions": versions(),
        "git": git_commit(),
        "env": {k: os.environ[k] for k in ENV_KEYS if k in os.environ},
    }
