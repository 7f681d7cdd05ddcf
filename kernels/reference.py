"""Pure-torch reference of the fused BatchNorm2d (+ residual) (+ ReLU) used at every ET-NAS site.

This is the path taken on CPU and whenever the Triton path is not selected; the Triton kernels are
tested against it. It relies on torch's own ``F.batch_norm`` so that running statistics are
updated exactly as ``nn.BatchNorm2d`` does (momentum, unbiased variance).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bn_act_reference(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
                     running_mean: torch.Tensor | None, running_var: torch.Tensor | None,
                     residual: torch.Tensor | None = None, training: bool = True, momentum: float | None = 0.1,
                     eps: float = 1e-5, relu: bool = True) -> torch.Tensor:
    """``relu(batch_norm(x) + residual)``, each part optional, with torch's own batch norm."""
    y = F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum or 0.0, eps)
    if residual is not None:
        y = y + residual
    if relu:
        y = F.relu(y)
    return y
