"""Fused BatchNorm2d (+ residual) (+ ReLU) for ET-NAS blocks: Triton on CUDA, torch elsewhere."""

from .bn_act import BatchNormAct2d
from .dispatch import KernelConfigError, requested_backend, select_backend
from .reference import bn_act_reference

__all__ = ["BatchNormAct2d", "KernelConfigError", "bn_act_reference", "requested_backend", "select_backend"]
