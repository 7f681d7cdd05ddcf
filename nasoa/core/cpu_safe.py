"""Keep CPU training clear of a native crash in oneDNN's strided 1x1 convolution backward.

On torch 2.14.1's CPU build (oneDNN, AVX-512, more than one thread) the backward of a 1x1
convolution with stride > 1 in channels_last dies with SIGSEGV or "double free or corruption" when
the batch is odd (3, 17, 33, ...): the open upstream issue uxlfoundation/oneDNN#6035 (1x1 backward
with strides, nhwc). Such convs are everywhere (ET-NAS skip projections, ResNet and RegNet
downsampling), and a native crash kills the process, so the trainer rewrites them before it trains:
a 1x1 conv with padding 0 and stride s is the same function as taking every s-th pixel and
convolving at stride 1, and oneDNN's stride-1 kernels are sound.

Measured here (2026-12, batches 3/17/33, 32 px): stride 2, groups 1 and 3-12 input channels crash;
16 or more channels, NCHW, stride 3, padding 1, grouped and depthwise convs (1x1, 3x3, 5x5) did not.
That boundary is oneDNN's kernel choice, not a documented rule, so every strided unpadded 1x1 conv
is rewritten.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SubsampledConv2d", "avoid_onednn_crashes", "is_crash_prone"]


class SubsampledConv2d(nn.Conv2d):
    """A strided 1x1, padding-0 ``nn.Conv2d`` computed as ``conv1x1_stride1(x[:, :, ::sh, ::sw])``.

    Only the computation differs: the parameters, state_dict keys, ``stride`` attribute and outputs
    (forward and backward, up to float32 rounding in the weight gradient) are those of the
    ``nn.Conv2d`` it replaces. The subsampling is a 1x1 average pool with the conv's stride: the
    same values as slicing, but one op whose backward is a single scatter (slicing H then W costs
    two zero-filled full-size gradients: 1.2-1.35x slower in a one-thread timing here).
    """

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return F.conv2d(F.avg_pool2d(input, 1, self.stride), weight, bias, 1, 0, 1, self.groups)


def is_crash_prone(module: nn.Module) -> bool:
    """A plain ``nn.Conv2d`` with a 1x1 kernel, no padding and a stride above 1. Subclasses (timm's
    ``Conv2dSame``, ``StdConv2d``) compute something of their own and are left alone; none of the
    zoo's or the baselines' strided 1x1 convs is one."""
    return (
        type(module) is nn.Conv2d
        and module.kernel_size == (1, 1)
        and module.stride != (1, 1)
        and module.padding in ((0, 0), "valid")
    )


def avoid_onednn_crashes(model: nn.Module) -> int:
    """Rewrite, in place, every strided 1x1 conv of ``model`` that oneDNN's backward can crash on
    (see the module docstring) into a :class:`SubsampledConv2d`; returns how many were rewritten.

    The module objects stay where they are (same parameters, buffers, hooks and state_dict keys);
    only their class changes. Idempotent, and harmless on a GPU.
    """
    n = 0
    for m in model.modules():
        if is_crash_prone(m):
            m.__class__ = SubsampledConv2d
            n += 1
    return n
