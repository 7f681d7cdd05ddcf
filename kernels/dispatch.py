"""Which implementation of the fused BatchNorm(+add)(+ReLU) runs: ``NASOA_KERNELS=auto|torch|triton``.

``auto`` (the default) picks Triton for CUDA tensors when triton imports, torch elsewhere. ``torch``
always takes the reference. ``triton`` forces the kernels, also on CPU tensors, which only works
under ``TRITON_INTERPRET=1`` (that is how the tests check them on a machine without a GPU).
Nothing here imports triton: that happens lazily, the first time a kernel runs.
"""

from __future__ import annotations

import functools
import importlib.util
import os

import torch

BACKENDS = ("auto", "torch", "triton")


class KernelConfigError(RuntimeError):
    """NASOA_KERNELS names something unusable (an unknown value, or triton where it cannot run)."""


def requested_backend() -> str:
    value = os.environ.get("NASOA_KERNELS", "auto").strip().lower() or "auto"
    if value not in BACKENDS:
        raise KernelConfigError(f"NASOA_KERNELS={value!r} is not one of {', '.join(BACKENDS)}; unset it or pick one")
    return value


@functools.lru_cache(maxsize=None)
def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def interpreter_enabled() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def select_backend(x: torch.Tensor) -> str:
    """``"triton"`` or ``"torch"`` for this input tensor."""
    want = requested_backend()
    if want == "torch":
        return "torch"
    if want == "triton":
        if not triton_available():
            raise KernelConfigError("NASOA_KERNELS=triton but triton is not installed; pip install triton or unset it")
        if x.device.type != "cuda" and not interpreter_enabled():
            raise KernelConfigError(
                "NASOA_KERNELS=triton on a CPU tensor needs TRITON_INTERPRET=1 (set before import), or use a GPU"
            )
        return "triton"
    return "triton" if x.device.type == "cuda" and triton_available() else "torch"
