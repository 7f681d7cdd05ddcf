"""Build an ``nn.Module`` from an ET-NAS :class:`~nasoa.core.space.Architecture`.

The network follows ``etnas.py`` of NAS-OA/NASOA exactly (ops, channel ratios, stride placement,
add/concat skips on pre-ReLU tensors, ReLU after the merge, 3-conv stem, average pool + linear),
with a module tree shaped for fine-tuning: ``stem``, ``stages[k]`` (so the first k can be frozen),
``fc``. Every BatchNorm site is a :class:`nasoa.kernels.BatchNormAct2d`, which fuses the residual
add and the ReLU where the block structure allows it.
"""

from __future__ import annotations

import torch
from torch import nn

from nasoa.kernels import BatchNormAct2d

from nasoa.core.space import Architecture, BlockPlan, SkipPlan, auto_stem, parse, plan, stem_strides

__all__ = ["ETNasNet", "build"]


def _init_conv(conv: nn.Conv2d) -> nn.Conv2d:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return conv


class ConvBn(nn.Module):
    """One ET-NAS op (conv, or depthwise 3x3 -> 1x1 for ``conv3_sep``) and its BatchNorm.

    The BatchNorm takes the optional residual and ReLU, so ``ConvBn(x, residual)`` is
    ``relu(bn(conv(x)) + residual)`` in one fused call where the kernel allows.
    """

    def __init__(self, op: int, in_ch: int, out_ch: int, stride: int, groups: int, relu: bool):
        super().__init__()
        if op == 6:
            self.conv = nn.Sequential(
                _init_conv(nn.Conv2d(in_ch, in_ch, 3, stride, 1, groups=in_ch, bias=False)),
                _init_conv(nn.Conv2d(in_ch, out_ch, 1, 1, 0, bias=False)),
            )
        elif op == 1:
            self.conv = _init_conv(nn.Conv2d(in_ch, out_ch, 1, stride, 0, bias=False))
        else:
            self.conv = _init_conv(nn.Conv2d(in_ch, out_ch, 3, stride, 1, groups=groups, bias=False))
        self.bn = BatchNormAct2d(out_ch, relu=relu)

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        return self.bn(self.conv(x), residual)


class Skip(nn.Module):
    """An add or concat skip, with its 1x1 conv + BN projection when shapes differ."""

    def __init__(self, sp: SkipPlan):
        super().__init__()
        self.kind, self.src, self.dst = sp.skip.kind, sp.skip.src, sp.skip.dst
        out_ch = sp.dst_ch if self.kind == "a" else sp.src_ch
        self.proj = ConvBn(1, sp.src_ch, out_ch, sp.stride, 1, relu=False) if sp.project else None

    def source(self, outs: list[torch.Tensor]) -> torch.Tensor:
        x = outs[self.src]
        return self.proj(x) if self.proj is not None else x


class EncodedBlock(nn.Module):
    """One block: layers with their skips; ReLU after each place's merges (``etnas.EncodedBlock``).

    At a place whose skips are all adds and which is not itself a skip source, the sum of the
    sources is handed to the layer's BatchNorm as its residual, so BN + add + ReLU is one call.
    Otherwise the BN runs without ReLU, the skips are applied in order on the pre-ReLU tensor, and
    the ReLU follows.
    """

    def __init__(self, bp: BlockPlan):
        super().__init__()
        n = len(bp.layers)
        sources = {sp.skip.src for place in bp.skips for sp in place}
        self.fused: list[bool] = []
        self.layers = nn.ModuleList()
        self.skips = nn.ModuleList()
        for i, (lp, place) in enumerate(zip(bp.layers, bp.skips)):
            fused = (i + 1) not in sources and all(sp.skip.kind == "a" for sp in place)
            self.fused.append(fused)
            self.layers.append(ConvBn(lp.op, lp.in_ch, lp.out_ch, lp.stride, lp.groups, relu=fused))
            self.skips.append(nn.ModuleList(Skip(sp) for sp in place))
        self.n_layers = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [x]
        cur = x
        for layer, skips, fused in zip(self.layers, self.skips, self.fused):
            if fused:
                residual = None
                for s in skips:
                    src = s.source(outs)
                    residual = src if residual is None else residual + src
                cur = layer(cur, residual)
                outs.append(cur)  # never read again as a pre-ReLU tensor: this place is no source
                continue
            outs.append(layer(cur))
            for s in skips:
                src = s.source(outs)
                outs[s.dst] = outs[s.dst] + src if s.kind == "a" else torch.cat([src, outs[s.dst]], 1)
            cur = torch.relu(outs[-1])
        return cur


class ETNasNet(nn.Module):
    """An ET-NAS network.

    Args:
        arch: an :class:`Architecture` or its encoding string.
        num_classes: classifier outputs (0 for a feature extractor with an identity head).
        in_chans: input channels.
        input_size: the intended input resolution; picks the stem when ``stem`` is None.
        stem: ``"large"`` (3 convs, stride 4, as published for 224 px) or ``"small"`` (the same
            3 convs at stride 1, for 8-64 px images). Both have the same parameters and keys.
    """

    def __init__(
        self,
        arch: Architecture | str,
        num_classes: int = 1000,
        in_chans: int = 3,
        input_size: int = 224,
        stem: str | None = None,
    ):
        super().__init__()
        self.arch = parse(arch) if isinstance(arch, str) else arch
        self.encoding = self.arch.encoding
        self.stem_type = stem or auto_stem(input_size)
        self.input_size = input_size
        self.in_chans = in_chans
        c0 = self.arch.c0
        s1, s2, s3 = stem_strides(self.stem_type)
        self.stem = nn.Sequential(
            ConvBn(0, in_chans, c0 // 2, s1, 1, relu=True),
            ConvBn(0, c0 // 2, c0 // 2, s2, 1, relu=True),
            ConvBn(0, c0 // 2, c0, s3, 1, relu=True),
        )
        plans = plan(self.arch)
        n_stages = self.arch.macro.n_stages
        stages: list[list[nn.Module]] = [[] for _ in range(n_stages)]
        for bp in plans:
            stages[bp.stage].append(EncodedBlock(bp))
        self.stages = nn.ModuleList(nn.Sequential(*blocks) for blocks in stages)
        self.num_features = self.arch.final_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.num_classes = num_classes
        self.fc: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a freshly initialised one for ``num_classes`` (0: identity)."""
        self.num_classes = num_classes
        device = next(self.parameters()).device
        self.fc = nn.Linear(self.num_features, num_classes).to(device) if num_classes > 0 else nn.Identity()

    def frozen_modules(self, frozen_stages: int) -> list[nn.Module]:
        """The modules ``frozen_stages=k`` freezes: none for 0, else the stem and stages 1..k."""
        if not 0 <= frozen_stages <= self.num_stages:
            raise ValueError(f"frozen_stages must be in 0..{self.num_stages}, got {frozen_stages}")
        if frozen_stages == 0:
            return []
        return [self.stem, *self.stages[:frozen_stages]]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map (N, C, h, w)."""
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pool(x).flatten(1)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def build(arch: Architecture | str, **kwargs) -> ETNasNet:
    """Shorthand for :class:`ETNasNet`."""
    return ETNasNet(arch, **kwargs)
