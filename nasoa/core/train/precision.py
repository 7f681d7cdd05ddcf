"""Mixed-precision training steps: ``fp32`` (the default), ``bf16`` (CPU and CUDA) and ``fp16`` (CUDA).

A mixed-precision step runs the forward pass under :func:`torch.autocast` (convolutions and matrix
products in 16 bits, the rest as autocast decides); the weights, the optimizer's state and the loss stay
in fp32, and ``fp16`` scales the loss (:class:`torch.amp.GradScaler`) so that small gradients do not
underflow. Evaluation, calibration, ``nasoa predict`` and ``nasoa export`` stay in fp32, so the accuracy a
run reports is the one its exported model reproduces. A resumed run (``--resume``) may change precision;
fp16's loss scale is not checkpointed and starts afresh.

On a CPU, bf16 is fast only where the CPU multiplies bf16 itself (AVX512-BF16 or AMX); elsewhere oneDNN
emulates it and a step is slower than in fp32. Even there, which members gain depends on their layers:
on an AMD EPYC with AVX512-BF16, etnas_z5 and etnas_z6 stepped 1.0-2.2x faster in bf16, MobileNetV2,
EfficientNet-Lite0, etnas_z3 and etnas_z4 1.4-1.9x slower (``bench/results/precision-20261206/``).
So fp32 stays the default, and bf16 is asked for, never guessed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from nasoa.core.errors import NasoaError

__all__ = ["PRECISIONS", "Precision", "resolve_precision", "cpu_has_native_bf16"]

PRECISIONS = ("fp32", "bf16", "fp16")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX tiles)."""
    import torch  # lazy: torch; importing nasoa.core.train stays light

    # torch.cpu's probes are private API (torch 2.x); without them, say no: the user is warned, not refused.
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


@dataclass
class Precision:
    """How a training step runs: ``name`` (fp32, bf16 or fp16) on ``device_type`` (cpu or cuda), and
    the loss scaler fp16 needs (None otherwise)."""

    name: str
    device_type: str
    scaler: Any = None  # torch.amp.GradScaler for fp16

    @property
    def dtype(self):
        import torch  # lazy: torch; importing nasoa.core.train stays light

        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)

    def autocast(self):
        """The context a step's forward pass runs in (a no-op in fp32)."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        import torch  # lazy: torch; importing nasoa.core.train stays light

        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward_and_step(self, loss, optimizer) -> None:
        """``loss.backward()`` and ``optimizer.step()``, through the loss scaler when there is one."""
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "device": self.device_type,
                "loss_scale": float(self.scaler.get_scale()) if self.scaler is not None else None}


def resolve_precision(name: str, device, warn=None) -> Precision:
    """Check ``name`` against ``device`` (a torch.device or a string) and build its :class:`Precision`.

    Refused in one line: an unknown name, fp16 on a CPU, bf16 on a GPU without it. Warned through
    ``warn`` (a callable taking a line), not refused: bf16 on a CPU that emulates it."""
    import torch  # lazy: torch; importing nasoa.core.train stays light

    key = (name or "fp32").strip().lower()
    key = {"32": "fp32", "float32": "fp32", "bfloat16": "bf16", "16": "fp16", "float16": "fp16"}.get(key, key)
    if key not in PRECISIONS:
        raise NasoaError(f"unknown --precision {name!r}; use {', '.join(PRECISIONS)}")
    dev = torch.device(device)
    if key == "fp16" and dev.type != "cuda":
        raise NasoaError("--precision fp16 needs a CUDA GPU; on a CPU use bf16 (fast on CPUs with "
                         "AVX512-BF16 or AMX) or fp32")
    if key == "bf16" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise NasoaError(f"this GPU ({torch.cuda.get_device_name(dev)}) has no bf16; use --precision fp16 or fp32")
    if key == "bf16" and dev.type == "cpu" and not cpu_has_native_bf16() and warn is not None:
        warn("this CPU has no bf16 arithmetic (AVX512-BF16 or AMX): bf16 steps are emulated and usually "
             "slower than fp32; drop --precision bf16 unless you measured otherwise")
    scaler = torch.amp.GradScaler(dev.type) if key == "fp16" else None
    return Precision(key, dev.type, scaler)
