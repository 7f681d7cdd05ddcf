"""Parameters and multiply-accumulates of an ET-NAS architecture, counted from its channel plan
(no network is built; tests/test_space.py checks the counts against torch's)."""

from __future__ import annotations

from dataclasses import dataclass

from nasoa.core.space.encoding import Architecture, parse
from nasoa.core.space.plan import auto_stem, out_hw, plan, stem_strides

__all__ = ["Cost", "count_cost"]


@dataclass(frozen=True)
class Cost:
    params: int
    macs: int
    final_hw: int

    @property
    def mparams(self) -> float:
        return self.params / 1e6

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9


def count_cost(
    arch: Architecture | str, input_size: int = 224, num_classes: int = 1000, stem: str | None = None, in_chans: int = 3
) -> Cost:
    """Parameters (weights, BN affine, classifier) and conv + linear multiply-accumulates.

    BatchNorm, ReLU, additions and pooling are excluded from MACs, as in the published table.
    """
    if isinstance(arch, str):
        arch = parse(arch)
    stem = stem or auto_stem(input_size)
    params = macs = 0
    hw = input_size

    def conv(cin: int, cout: int, k: int, stride: int, groups: int = 1, bn: bool = True) -> None:
        nonlocal params, macs, hw
        hw = out_hw(hw, stride)
        w = k * k * (cin // groups) * cout
        params += w + (2 * cout if bn else 0)
        macs += w * hw * hw

    half = arch.c0 // 2
    s1, s2, s3 = stem_strides(stem)
    conv(in_chans, half, 3, s1)
    conv(half, half, 3, s2)
    conv(half, arch.c0, 3, s3)
    for bp in plan(arch):
        place_hw = [hw]
        for lp, skips in zip(bp.layers, bp.skips):
            hw = place_hw[-1]
            if lp.op == 6:
                conv(lp.in_ch, lp.in_ch, 3, lp.stride, lp.in_ch, bn=False)
                conv(lp.in_ch, lp.out_ch, 1, 1)
            else:
                conv(lp.in_ch, lp.out_ch, 1 if lp.op == 1 else 3, lp.stride, lp.groups)
            place_hw.append(hw)
            for sp in skips:
                if sp.project:
                    hw = place_hw[sp.skip.src]
                    out_ch = sp.dst_ch if sp.skip.kind == "a" else sp.src_ch
                    conv(sp.src_ch, out_ch, 1, sp.stride)
            hw = place_hw[-1]
    params += arch.final_channels * num_classes + num_classes
    macs += arch.final_channels * num_classes
    return Cost(params, macs, hw)
