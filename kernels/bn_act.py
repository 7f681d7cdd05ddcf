"""``BatchNormAct2d``: the single BatchNorm2d (+ residual add) (+ ReLU) module of every ET-NAS net.

A drop-in for ``nn.BatchNorm2d`` followed by ``+ residual`` and ``relu``: it *is* an
``nn.BatchNorm2d`` (same parameters, buffers and state_dict keys), with ``forward(x, residual=None)``.
Which implementation runs is decided per call by :func:`nasoa.kernels.dispatch.select_backend`.
"""

from __future__ import annotations

import torch
from torch import nn

from .dispatch import select_backend
from .reference import bn_act_reference


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm2d, then an optional residual add, then an optional ReLU, in one module.

    Args:
        num_features: channels C of the NCHW input.
        relu: apply ReLU after the (optional) residual add.
        eps, momentum, affine, track_running_stats: as for ``nn.BatchNorm2d``.
    """

    def __init__(
        self,
        num_features: int,
        relu: bool = True,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.relu = relu

    def extra_repr(self) -> str:
        return super().extra_repr() + f", relu={self.relu}"

    def _momentum_and_training(self) -> tuple[float | None, bool]:
        # Mirrors nn.BatchNorm2d.forward: cumulative average when momentum is None, batch statistics
        # in training mode or when no running statistics are tracked.
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        return momentum, use_batch_stats

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        self._check_input_dim(x)
        if residual is not None and residual.shape != x.shape:
            raise ValueError(f"residual shape {tuple(residual.shape)} differs from input shape {tuple(x.shape)}")
        momentum, use_batch_stats = self._momentum_and_training()
        running_mean = self.running_mean if not self.training or self.track_running_stats else None
        running_var = self.running_var if not self.training or self.track_running_stats else None
        backend = select_backend(x)
        if backend == "triton":
            from .bn_act_triton import bn_act_triton  # lazy: triton; only the Triton path needs it

            return bn_act_triton(
                x, self.weight, self.bias, running_mean, running_var, residual,
                use_batch_stats, momentum, self.eps, self.relu,
            )
        return bn_act_reference(
            x, self.weight, self.bias, running_mean, running_var, residual,
            use_batch_stats, momentum, self.eps, self.relu,
        )
