"""The channel and resolution plan of an ET-NAS architecture: every layer's and skip's channels,
strides and groups, the stem's strides, and the summaries printed from them.

Shared by validation (an :class:`~nasoa.core.space.encoding.Architecture` whose channels do not work
out is refused), cost counting and the network builder (:mod:`nasoa.core.net`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from nasoa.core.space.vocab import OPS, RATIOS, EncodingError

if TYPE_CHECKING:  # annotations only: encoding imports this module (an Architecture plans itself)
    from nasoa.core.space.encoding import Architecture, Block, Skip

__all__ = ["LayerPlan", "SkipPlan", "BlockPlan", "plan", "iter_blocks", "stem_strides", "auto_stem", "out_hw",
           "describe", "block_summary"]


@dataclass(frozen=True)
class LayerPlan:
    op: int
    in_ch: int
    out_ch: int
    stride: int
    groups: int


@dataclass(frozen=True)
class SkipPlan:
    skip: Skip
    src_ch: int
    dst_ch: int  # target channels before this skip is applied
    stride: int  # stride of the projection (1 if none)
    project: bool  # whether a 1x1 conv + BN projects the source


@dataclass(frozen=True)
class BlockPlan:
    index: int
    stage: int
    in_ch: int
    out_ch: int
    stride: int
    layers: tuple[LayerPlan, ...]
    skips: tuple[tuple[SkipPlan, ...], ...]  # per target place 1..n, in application order


def _groups(op: int, in_ch: int) -> int:
    return {0: 1, 1: 1, 2: 2, 3: 4, 4: in_ch, 5: in_ch // 32, 6: 1}[op]


def _plan_block(block: Block, in_ch: int, mult: int, stride: int) -> tuple[tuple[LayerPlan, ...], tuple]:
    """Channels, strides and groups of every layer and skip; raises EncodingError (position=layer)."""
    out_ch = in_ch * mult
    n = block.n_layers
    sp = block.stride_layer
    place_ch = [in_ch]
    place_stride = [1] * (sp + 1) + [stride] * (n - sp)
    by_target: dict[int, list[Skip]] = {}
    for s in block.all_skips():
        by_target.setdefault(s.dst, []).append(s)
    layers: list[LayerPlan] = []
    skips: list[tuple[SkipPlan, ...]] = []
    for i, layer in enumerate(block.layers):
        lin = place_ch[-1]
        lout = out_ch * 2 ** layer.ratio // 4
        if lout < 1:
            raise _LayerError(i, f"layer {i} would have {out_ch}*{RATIOS[layer.ratio]} < 1 output channels")
        g = _groups(layer.op, lin)
        if layer.op == 5 and g < 1:
            raise _LayerError(i, f"op 5 (conv3_base32) needs >= 32 input channels, layer {i} gets {lin}")
        if lin % g or lout % g:
            raise _LayerError(
                i,
                f"op {layer.op} ({OPS[layer.op]}) uses {g} groups but layer {i} maps {lin} -> {lout} channels; "
                f"both must be multiples of {g}",
            )
        layers.append(LayerPlan(layer.op, lin, lout, stride if i == sp else 1, g))
        place_ch.append(lout)
        here = []
        for s in by_target.get(i + 1, []):
            src_ch, dst_ch = place_ch[s.src], place_ch[s.dst]
            st = place_stride[s.dst] // place_stride[s.src]
            if s.kind == "a":
                project = st != 1 or src_ch != dst_ch
            else:
                project = st != 1
                place_ch[s.dst] = dst_ch + src_ch
            here.append(SkipPlan(s, src_ch, dst_ch, st, project))
        skips.append(tuple(here))
    return tuple(layers), tuple(skips)


class _LayerError(Exception):
    def __init__(self, layer: int, reason: str):
        super().__init__(reason)
        self.layer = layer
        self.reason = reason


def plan(arch: Architecture) -> tuple[BlockPlan, ...]:
    """Every block's channels, strides and groups; raises EncodingError for channel conflicts.

    The error position points at the offending op digit in the block part of the encoding (for
    conflicts that come from a layer) or at the macro digit of the block where it first happens.
    """
    block_str = str(arch.block)
    macro_at = len(block_str) + 1 + len(str(arch.c0)) + 1
    macro_digit_pos = []
    for i, ch in enumerate(str(arch.macro)):
        if ch != "-":
            macro_digit_pos.append(macro_at + i)
    ch = arch.c0
    stages = arch.macro.stage_of_block()
    cache: dict[tuple[int, int, int], tuple] = {}
    out = []
    for b, (m, d) in enumerate(zip(arch.macro.multipliers, arch.macro.downsample)):
        stride = 2 if d else 1
        key = (ch, m, stride)
        if key not in cache:
            try:
                cache[key] = _plan_block(arch.block, ch, m, stride)
            except _LayerError as e:
                raise EncodingError(
                    f"{e.reason} (in block {b}, macro digit at position {macro_digit_pos[b]}, "
                    f"with {ch} -> {ch * m} channels)",
                    2 * e.layer,
                ) from None
        layers, skips = cache[key]
        out.append(BlockPlan(b, stages[b], ch, ch * m, stride, layers, skips))
        ch *= m
    return tuple(out)


def out_hw(hw: int, stride: int) -> int:
    """Output height (or width) of a conv with ``stride`` on ``hw`` pixels."""
    # 3x3 pad 1 and 1x1 pad 0 give the same output size for a given stride.
    return (hw - 1) // stride + 1


def stem_strides(stem: str) -> tuple[int, int, int]:
    """Strides of the three stem convs: ``large`` (stride 4, for >= 96 px) or ``small`` (stride 1)."""
    if stem == "large":
        return (2, 1, 2)
    if stem == "small":
        return (1, 1, 1)
    raise ValueError(f"unknown stem {stem!r}: use 'large' or 'small'")


def auto_stem(input_size: int) -> str:
    """The stem the network builder picks for an input size: ``small`` up to 64 px."""
    return "small" if input_size <= 64 else "large"


def iter_blocks(arch: Architecture) -> Iterator[BlockPlan]:
    yield from plan(arch)


def describe(arch: Architecture, input_size: int = 224, stem: str | None = None) -> list[dict]:
    """Stage-by-stage summary rows: blocks, channels, output resolution."""
    stem = stem or auto_stem(input_size)
    hw = input_size
    for s in stem_strides(stem):
        hw = out_hw(hw, s)
    rows: list[dict] = [
        {"stage": "stem", "blocks": 3, "in_ch": 3, "out_ch": arch.c0, "out_hw": hw, "stride": math.prod(stem_strides(stem))}
    ]
    for bp in plan(arch):
        if bp.stride == 2:
            hw = out_hw(hw, 2)
        key = f"stage{bp.stage + 1}"
        if rows[-1]["stage"] != key:
            rows.append({"stage": key, "blocks": 0, "in_ch": bp.in_ch, "out_ch": bp.out_ch, "out_hw": hw, "stride": bp.stride})
        row = rows[-1]
        row["blocks"] += 1
        row["out_ch"] = bp.out_ch
        row["out_hw"] = hw
    return rows


def block_summary(block: Block) -> list[str]:
    """Human-readable lines for each layer and skip of a block (ratios relative to block output)."""
    lines = []
    for i, layer in enumerate(block.layers):
        lines.append(f"layer {i + 1}: {layer.op_name} x{RATIOS[layer.ratio]:g}c")
    for s in block.all_skips():
        what = "add" if s.kind == "a" else "concat"
        implied = " (residual)" if s == block.all_skips()[-1] else ""
        lines.append(f"skip: {what} place {s.src} -> place {s.dst}{implied}")
    return lines
