"""The ET-NAS search space: encodings, validation, sampling, mutation and cost counting.

An architecture is written ``"{block}_{C0}_{macro}"`` exactly as the released ET-NAS models are
(NASOA, ICCV 2021; ``etnas.py`` of NAS-OA/NASOA), e.g. ``031-_64_1-1-221-11121``:

* **block** ``"<layers>-<skips>"``: digit pairs ``(op, ratio)`` per layer, the last layer's ratio
  omitted (always x1); then 3-character skip tokens ``t i j`` (``a`` add / ``c`` concat from place
  ``i`` to place ``j``; place 0 is the block input, place k the pre-ReLU output of layer k), sorted
  by target. A residual ``a0n`` from the input to the last place is always implied.
* **C0**: the stem's output channels.
* **macro**: one digit per block, the block's channel multiplier (1, 2 or 4); a ``-`` before a
  digit makes that block stride 2 and starts a new stage.

This module is pure Python (no torch) so that the CLI and the meta-learner can reason about
architectures without importing a deep-learning stack.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

from nasoa.core.errors import NasoaError

__all__ = [
    "OPS",
    "RATIOS",
    "EncodingError",
    "Layer",
    "Skip",
    "Block",
    "Macro",
    "Architecture",
    "Constraints",
    "parse",
    "parse_block",
    "parse_macro",
    "sample",
    "mutate",
    "count_cost",
    "Cost",
    "LayerPlan",
    "BlockPlan",
    "plan",
]

#: The seven ET-NAS operations, indexed by their digit. Every op is followed by BatchNorm.
OPS: tuple[str, ...] = (
    "conv3",  # 0: 3x3, groups=1
    "conv1",  # 1: 1x1
    "conv3_grp2",  # 2: 3x3, groups=2
    "conv3_grp4",  # 3: 3x3, groups=4
    "conv3_base1",  # 4: 3x3, groups=in_channels (depthwise, 1 input channel per group)
    "conv3_base32",  # 5: 3x3, groups=in_channels // 32 (32 input channels per group)
    "conv3_sep",  # 6: depthwise 3x3 then 1x1, no BatchNorm between them
)
#: Channel ratio digit -> multiplier of the block's output channels (``out * 2**d // 4``).
RATIOS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
MULTIPLIERS: tuple[int, ...] = (1, 2, 4)
SKIP_KINDS: tuple[str, ...] = ("a", "c")
MAX_PLACES = 9  # skip places are single digits


class EncodingError(NasoaError, ValueError):
    """A malformed or unbuildable encoding; names the character position and the reason."""

    def __init__(self, reason: str, position: int | None = None, encoding: str | None = None):
        self.reason = reason
        self.position = position
        self.encoding = encoding
        where = f"position {position}" if position is not None else "encoding"
        text = f"{where}: {reason}"
        if encoding is not None:
            text = f"invalid encoding {encoding!r} at {text}"
        super().__init__(text)

    def shifted(self, offset: int, encoding: str) -> "EncodingError":
        """The same error with its position made relative to a larger string."""
        pos = None if self.position is None else self.position + offset
        return EncodingError(self.reason, pos, encoding)


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """One operation of a block: ``op`` indexes :data:`OPS`, ``ratio`` indexes :data:`RATIOS`."""

    op: int
    ratio: int = 2

    @property
    def op_name(self) -> str:
        return OPS[self.op]


@dataclass(frozen=True)
class Skip:
    """A skip connection ``kind`` ('a' add, 'c' concat) from place ``src`` to place ``dst``."""

    kind: str
    src: int
    dst: int

    def __str__(self) -> str:
        return f"{self.kind}{self.src}{self.dst}"


@dataclass(frozen=True)
class Block:
    """The block cell shared by every block of a network."""

    layers: tuple[Layer, ...]
    skips: tuple[Skip, ...] = ()

    def __post_init__(self) -> None:
        _validate_block(self)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def stride_layer(self) -> int:
        """Index of the layer that carries the block's stride: the first that is not a 1x1 conv."""
        for i, layer in enumerate(self.layers):
            if layer.op != 1:
                return i
        return self.n_layers - 1

    def all_skips(self) -> tuple[Skip, ...]:
        """Explicit skips followed by the implied residual ``a0n``, in the order they are applied."""
        return self.skips + (Skip("a", 0, self.n_layers),)

    def __str__(self) -> str:
        digits = "".join(f"{layer.op}{layer.ratio}" for layer in self.layers)[:-1]
        return digits + "-" + "".join(str(s) for s in self.skips)


@dataclass(frozen=True)
class Macro:
    """Per block: its channel multiplier and whether it downsamples (stride 2)."""

    multipliers: tuple[int, ...]
    downsample: tuple[bool, ...]

    def __post_init__(self) -> None:
        if len(self.multipliers) != len(self.downsample):
            raise EncodingError("multipliers and downsample flags differ in length")
        if not self.multipliers:
            raise EncodingError("the macro has no blocks")
        for i, m in enumerate(self.multipliers):
            if m not in MULTIPLIERS:
                raise EncodingError(f"block {i} multiplier {m} is not one of 1, 2, 4")

    @property
    def depth(self) -> int:
        return len(self.multipliers)

    @property
    def n_downsamples(self) -> int:
        return sum(self.downsample)

    @property
    def n_stages(self) -> int:
        """Stages are runs of blocks between downsamplings (a leading stride-2 block opens stage 1)."""
        return 1 + sum(1 for i, d in enumerate(self.downsample) if d and i > 0)

    def stage_of_block(self) -> tuple[int, ...]:
        stage, out = 0, []
        for i, d in enumerate(self.downsample):
            if d and i > 0:
                stage += 1
            out.append(stage)
        return tuple(out)

    def blocks_per_stage(self) -> tuple[int, ...]:
        counts = [0] * self.n_stages
        for s in self.stage_of_block():
            counts[s] += 1
        return tuple(counts)

    @property
    def width_factor(self) -> int:
        """Final channels / C0."""
        f = 1
        for m in self.multipliers:
            f *= m
        return f

    def __str__(self) -> str:
        return "".join(("-" if d else "") + str(m) for m, d in zip(self.multipliers, self.downsample))


@dataclass(frozen=True)
class Architecture:
    """A whole ET-NAS network: the block cell, the stem width C0 and the macro layout."""

    block: Block
    c0: int
    macro: Macro

    def __post_init__(self) -> None:
        # Raises EncodingError, positioned in the full string, when channels do not work out.
        plan(self)

    @property
    def encoding(self) -> str:
        return f"{self.block}_{self.c0}_{self.macro}"

    def __str__(self) -> str:
        return self.encoding

    @property
    def final_channels(self) -> int:
        return self.c0 * self.macro.width_factor

    @property
    def depth(self) -> int:
        """Weighted layers on the main path: 3 stem convs, the block layers, the classifier."""
        return 3 + self.macro.depth * self.block.n_layers + 1


# --------------------------------------------------------------------------------------------------
# Parsing and formatting
# --------------------------------------------------------------------------------------------------

_C0_RE = re.compile(r"[0-9]+")


def parse(encoding: str) -> Architecture:
    """Parse ``"{block}_{C0}_{macro}"``; raises :class:`EncodingError` naming the position."""
    if not isinstance(encoding, str):
        raise EncodingError(f"expected a string, got {type(encoding).__name__}")
    s = encoding
    if s != s.strip():
        raise EncodingError("leading or trailing whitespace", 0 if s[:1].isspace() else len(s.rstrip()), s)
    if s.count("_") != 2:
        pos = [i for i, ch in enumerate(s) if ch == "_"]
        where = pos[2] if len(pos) > 2 else len(s)
        raise EncodingError(
            f"expected 3 parts '{{block}}_{{C0}}_{{macro}}' separated by '_', found {len(pos) + 1}", where, s
        )
    block_s, c0_s, macro_s = s.split("_")
    c0_at = len(block_s) + 1
    macro_at = c0_at + len(c0_s) + 1
    try:
        block = parse_block(block_s)
    except EncodingError as e:
        raise e.shifted(0, s) from None
    if not c0_s or not _C0_RE.fullmatch(c0_s):
        bad = next((i for i, ch in enumerate(c0_s) if not ch.isdigit()), 0)
        raise EncodingError(f"C0 {c0_s!r} is not a positive integer", c0_at + bad, s)
    if c0_s.startswith("0"):
        raise EncodingError(f"C0 {c0_s!r} has a leading zero", c0_at, s)
    c0 = int(c0_s)
    if c0 < 2 or c0 % 2:
        raise EncodingError(f"C0 must be an even number >= 2 (the stem halves it), got {c0}", c0_at, s)
    if c0 > 4096:
        raise EncodingError(f"C0 {c0} is larger than 4096", c0_at, s)
    try:
        macro = parse_macro(macro_s)
    except EncodingError as e:
        raise e.shifted(macro_at, s) from None
    try:
        return Architecture(block, c0, macro)
    except EncodingError as e:
        raise EncodingError(e.reason, e.position, s) from None


def parse_block(s: str) -> Block:
    """Parse a block string such as ``031-`` or ``23311-a02c12`` (positions relative to ``s``)."""
    if not s:
        raise EncodingError("the block is empty", 0)
    layers_s, sep, skips_s = s.partition("-")
    if "-" in skips_s:
        raise EncodingError("a second '-' in the block", len(layers_s) + 1 + skips_s.index("-"))
    if not layers_s:
        raise EncodingError("the block has no layers", 0)
    if len(layers_s) % 2 == 0:
        raise EncodingError(
            f"the layer part {layers_s!r} must have an odd length: (op, ratio) pairs then the last op",
            len(layers_s),
        )
    layers = []
    for i, ch in enumerate(layers_s):
        if not ch.isdigit():
            raise EncodingError(f"{ch!r} is not a digit in the layer part", i)
        d = int(ch)
        if i % 2 == 0 and d >= len(OPS):
            raise EncodingError(f"op digit {d} is not one of 0-{len(OPS) - 1}", i)
        if i % 2 == 1 and d >= len(RATIOS):
            raise EncodingError(f"channel-ratio digit {d} is not one of 0-{len(RATIOS) - 1}", i)
    padded = layers_s + "2"
    for i in range(0, len(padded), 2):
        layers.append(Layer(int(padded[i]), int(padded[i + 1])))
    if len(layers) > MAX_PLACES:
        raise EncodingError(f"{len(layers)} layers; at most {MAX_PLACES} fit single-digit skip places", 0)
    skips_at = len(layers_s) + 1
    if len(skips_s) % 3:
        raise EncodingError(
            f"skip part {skips_s!r} is not a sequence of 3-character tokens 't i j'",
            skips_at + len(skips_s) - len(skips_s) % 3,
        )
    skips = []
    for k in range(0, len(skips_s), 3):
        tok = skips_s[k : k + 3]
        at = skips_at + k
        if tok[0] not in SKIP_KINDS:
            raise EncodingError(f"skip type {tok[0]!r} is not 'a' (add) or 'c' (concat)", at)
        for off in (1, 2):
            if not tok[off].isdigit():
                raise EncodingError(f"skip place {tok[off]!r} is not a digit", at + off)
        skips.append(Skip(tok[0], int(tok[1]), int(tok[2])))
    try:
        return Block(tuple(layers), tuple(skips))
    except EncodingError as e:
        # Block validation reports the skip index; translate it into a character position.
        if e.position is not None:
            raise EncodingError(e.reason, skips_at + 3 * e.position + 1) from None
        raise


def _validate_block(b: Block) -> None:
    """Structural checks of a block; ``position`` in errors is the skip index (parse maps it)."""
    n = len(b.layers)
    if n == 0:
        raise EncodingError("the block has no layers")
    if n > MAX_PLACES:
        raise EncodingError(f"{n} layers; at most {MAX_PLACES}")
    for i, layer in enumerate(b.layers):
        if not 0 <= layer.op < len(OPS):
            raise EncodingError(f"layer {i} op {layer.op} is not one of 0-{len(OPS) - 1}")
        if not 0 <= layer.ratio < len(RATIOS):
            raise EncodingError(f"layer {i} ratio {layer.ratio} is not one of 0-{len(RATIOS) - 1}")
    if b.layers[-1].ratio != 2:
        raise EncodingError("the last layer's channel ratio is fixed at x1 (digit 2)")
    seen = set()
    last_dst = 0
    for k, s in enumerate(b.skips):
        if s.kind not in SKIP_KINDS:
            raise EncodingError(f"skip type {s.kind!r} is not 'a' or 'c'", k)
        if not 0 <= s.src < s.dst:
            raise EncodingError(f"skip {s}: the source place must come before the target place", k)
        if s.dst > n:
            raise EncodingError(f"skip {s}: target place {s.dst} does not exist (the block has {n} layers)", k)
        if (s.src, s.dst) == (0, n) and s.kind == "a":
            raise EncodingError(f"skip {s} repeats the implied residual a0{n}", k)
        if s.kind == "c" and s.dst == n:
            raise EncodingError(
                f"skip {s}: a concat into the last place would change the block's output width", k
            )
        if (s.src, s.dst) in seen:
            raise EncodingError(f"skip {s} connects places {s.src} and {s.dst} a second time", k)
        if s.dst < last_dst:
            raise EncodingError(f"skip {s} is out of order: tokens are sorted by target place", k)
        seen.add((s.src, s.dst))
        last_dst = s.dst


def parse_macro(s: str) -> Macro:
    """Parse a macro string such as ``1-1-221-11121`` (positions relative to ``s``)."""
    if not s:
        raise EncodingError("the macro is empty", 0)
    mults: list[int] = []
    down: list[bool] = []
    pending = False
    for i, ch in enumerate(s):
        if ch == "-":
            if pending:
                raise EncodingError("two '-' in a row: a block can downsample only once", i)
            pending = True
        elif ch.isdigit():
            m = int(ch)
            if m not in MULTIPLIERS:
                raise EncodingError(f"block multiplier {m} is not one of 1, 2, 4", i)
            mults.append(m)
            down.append(pending)
            pending = False
        else:
            raise EncodingError(f"{ch!r} is not a block multiplier (1, 2, 4) or '-'", i)
    if pending:
        raise EncodingError("the macro ends with '-': a downsampling needs a block after it", len(s) - 1)
    return Macro(tuple(mults), tuple(down))


# --------------------------------------------------------------------------------------------------
# Channel planning (shared by validation, cost counting and the network builder)
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Parameters and multiply-accumulates
# --------------------------------------------------------------------------------------------------


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


def _out_hw(hw: int, stride: int) -> int:
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
        hw = _out_hw(hw, stride)
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


# --------------------------------------------------------------------------------------------------
# Sampling and mutation
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraints:
    """Bounds for sampling and mutation (the search space actually explored)."""

    min_layers: int = 1
    max_layers: int = 3
    max_skips: int = 2
    ops: tuple[int, ...] = tuple(range(len(OPS)))
    ratios: tuple[int, ...] = tuple(range(len(RATIOS)))
    c0_choices: tuple[int, ...] = (16, 32, 64)
    min_depth: int = 4
    max_depth: int = 16
    n_downsamples: tuple[int, ...] = (2, 3)
    n_doublings: tuple[int, ...] = (2, 3, 4)
    first_multipliers: tuple[int, ...] = (1, 2, 4)
    max_channels: int = 2048
    max_params: int | None = None
    params_input_size: int = 32
    params_num_classes: int = 20

    def check(self, arch: Architecture) -> str | None:
        """None when ``arch`` satisfies the constraints, else the first violated one."""
        b, m = arch.block, arch.macro
        if not self.min_layers <= b.n_layers <= self.max_layers:
            return f"{b.n_layers} layers not in [{self.min_layers}, {self.max_layers}]"
        if len(b.skips) > self.max_skips:
            return f"{len(b.skips)} skips > {self.max_skips}"
        if any(layer.op not in self.ops for layer in b.layers):
            return "an op outside the allowed set"
        if any(layer.ratio not in self.ratios for layer in b.layers[:-1]):
            return "a channel ratio outside the allowed set"
        if arch.c0 not in self.c0_choices:
            return f"C0 {arch.c0} not in {self.c0_choices}"
        if not self.min_depth <= m.depth <= self.max_depth:
            return f"depth {m.depth} not in [{self.min_depth}, {self.max_depth}]"
        if m.n_downsamples not in self.n_downsamples:
            return f"{m.n_downsamples} downsamplings not in {self.n_downsamples}"
        peak = max(lp.out_ch for bp in plan(arch) for lp in bp.layers)
        if arch.final_channels > self.max_channels or peak > 4 * self.max_channels:
            return f"{arch.final_channels} final channels > {self.max_channels}"
        if self.max_params is not None:
            p = count_cost(arch, self.params_input_size, self.params_num_classes).params
            if p > self.max_params:
                return f"{p} params > {self.max_params}"
        return None


def _rng(seed: int | random.Random | None) -> random.Random:
    return seed if isinstance(seed, random.Random) else random.Random(seed)


def sample_block(rng: random.Random, c: Constraints) -> Block:
    """A random block: ops and ratios uniform over the allowed sets, skips over all legal pairs."""
    while True:
        n = rng.randint(c.min_layers, c.max_layers)
        layers = [Layer(rng.choice(c.ops), rng.choice(c.ratios)) for _ in range(n - 1)]
        layers.append(Layer(rng.choice(c.ops), 2))
        pairs = [(i, j) for j in range(1, n + 1) for i in range(j) if (i, j) != (0, n)]
        k = rng.randint(0, min(c.max_skips, len(pairs)))
        chosen = sorted(rng.sample(pairs, k), key=lambda p: p[1])
        skips = []
        for i, j in chosen:
            kind = "a" if j == n else rng.choice(SKIP_KINDS)
            skips.append(Skip(kind, i, j))
        try:
            return Block(tuple(layers), tuple(skips))
        except EncodingError:
            continue


def sample_macro(rng: random.Random, c: Constraints, c0: int) -> Macro:
    """A random macro as vega's DnetNas codec draws it: a row of blocks, some doubling, some striding."""
    for _ in range(1000):
        depth = rng.randint(c.min_depth, c.max_depth)
        n_down = rng.choice([d for d in c.n_downsamples if d < depth] or [0])
        first = rng.choice(c.first_multipliers)
        n_double = rng.choice(c.n_doublings)
        mults = [1] * depth
        mults[0] = first
        positions = list(range(1, depth))
        for p in rng.sample(positions, min(n_double, len(positions))):
            mults[p] = 2
        down = [False] * depth
        for p in rng.sample(positions, n_down):
            down[p] = True
        if c0 * _prod(mults) > c.max_channels:
            continue
        return Macro(tuple(mults), tuple(down))
    raise RuntimeError("could not sample a macro under these constraints")


def _prod(xs: Sequence[int]) -> int:
    out = 1
    for x in xs:
        out *= x
    return out


def sample(seed: int | random.Random | None = None, constraints: Constraints | None = None) -> Architecture:
    """A random valid architecture that satisfies ``constraints`` (deterministic for a seed)."""
    rng = _rng(seed)
    c = constraints or Constraints()
    for _ in range(10_000):
        block = sample_block(rng, c)
        c0 = rng.choice(c.c0_choices)
        macro = sample_macro(rng, c, c0)
        try:
            arch = Architecture(block, c0, macro)
        except EncodingError:
            continue
        if c.check(arch) is None:
            return arch
    raise RuntimeError("could not sample an architecture under these constraints; loosen them")


BLOCK_MUTATIONS = ("op", "ratio", "skip_add", "skip_remove", "skip_kind", "layer_add", "layer_remove")
MACRO_MUTATIONS = ("insert", "remove", "swap")


def _mutate_block(block: Block, rng: random.Random, c: Constraints) -> tuple[Block, str]:
    kind = rng.choice(BLOCK_MUTATIONS)
    layers = list(block.layers)
    skips = list(block.skips)
    n = len(layers)
    if kind == "op":
        i = rng.randrange(n)
        layers[i] = replace(layers[i], op=rng.choice([o for o in c.ops if o != layers[i].op] or c.ops))
    elif kind == "ratio":
        if n < 2:
            raise _Retry
        i = rng.randrange(n - 1)
        layers[i] = replace(layers[i], ratio=rng.choice([r for r in c.ratios if r != layers[i].ratio] or c.ratios))
    elif kind == "skip_add":
        have = {(s.src, s.dst) for s in skips}
        pairs = [(i, j) for j in range(1, n + 1) for i in range(j) if (i, j) != (0, n) and (i, j) not in have]
        if not pairs:
            raise _Retry
        i, j = rng.choice(pairs)
        skips.append(Skip("a" if j == n else rng.choice(SKIP_KINDS), i, j))
        skips.sort(key=lambda s: s.dst)
    elif kind == "skip_remove":
        if not skips:
            raise _Retry
        skips.pop(rng.randrange(len(skips)))
    elif kind == "skip_kind":
        cand = [k for k, s in enumerate(skips) if s.dst != n]
        if not cand:
            raise _Retry
        k = rng.choice(cand)
        s = skips[k]
        skips[k] = replace(s, kind="c" if s.kind == "a" else "a")
    elif kind == "layer_add":
        i = rng.randrange(n + 1)
        layers.insert(i, Layer(rng.choice(c.ops), rng.choice(c.ratios)))
        if i == n:  # a new last layer: the old last gets a free ratio, the new one is x1
            layers[-1] = replace(layers[-1], ratio=2)
        skips = _shift_skips(skips, lambda p: p + 1 if p > i else p)
    elif kind == "layer_remove":
        if n < 2:
            raise _Retry
        i = rng.randrange(n)
        layers.pop(i)
        layers[-1] = replace(layers[-1], ratio=2)
        skips = [s for s in skips if s.src != i + 1 and s.dst != i + 1]
        skips = _shift_skips(skips, lambda p: p - 1 if p > i + 1 else p)
    new_n = len(layers)
    skips = [
        s
        for s in skips
        if s.src < s.dst <= new_n and (s.src, s.dst) != (0, new_n) and not (s.kind == "c" and s.dst == new_n)
    ]
    skips.sort(key=lambda s: s.dst)
    try:
        return Block(tuple(layers), tuple(skips)), kind
    except EncodingError:
        raise _Retry from None


def _shift_skips(skips: list[Skip], f) -> list[Skip]:
    return [Skip(s.kind, f(s.src), f(s.dst)) for s in skips]


def _mutate_macro(macro: Macro, rng: random.Random) -> tuple[Macro, str]:
    """vega's DnetNas mutations on the character string: insert/remove a '1' block, swap neighbours."""
    s = list(str(macro))
    kind = rng.choice(MACRO_MUTATIONS)
    if kind == "insert":
        s.insert(rng.randrange(len(s) + 1), "1")
    elif kind == "remove":
        ones = [i for i, ch in enumerate(s) if ch == "1"]
        if not ones:
            raise _Retry
        s.pop(rng.choice(ones))
    else:
        cand = [i for i in range(len(s) - 1) if s[i] != s[i + 1]]
        if not cand:
            raise _Retry
        i = rng.choice(cand)
        s[i], s[i + 1] = s[i + 1], s[i]
    try:
        return parse_macro("".join(s)), kind
    except EncodingError:
        raise _Retry from None


class _Retry(Exception):
    pass


def mutate(
    arch: Architecture,
    seed: int | random.Random | None = None,
    level: str = "any",
    constraints: Constraints | None = None,
    max_tries: int = 1000,
) -> Architecture:
    """One mutation of ``arch`` at the ``block`` or ``macro`` level (or either, ``any``).

    Block level changes an op, a ratio, a skip (add, remove, add<->concat) or adds/removes a layer;
    macro level inserts or removes a block or moves a downsampling / channel-doubling point, as
    vega's DnetNas does. The result is valid, satisfies ``constraints`` and differs from ``arch``.
    """
    if level not in ("any", "block", "macro"):
        raise ValueError(f"level must be 'any', 'block' or 'macro', not {level!r}")
    rng = _rng(seed)
    c = constraints or Constraints()
    for _ in range(max_tries):
        lvl = level if level != "any" else rng.choice(("block", "macro"))
        try:
            if lvl == "block":
                block, _ = _mutate_block(arch.block, rng, c)
                cand = Architecture(block, arch.c0, arch.macro)
            else:
                macro, _ = _mutate_macro(arch.macro, rng)
                cand = Architecture(arch.block, arch.c0, macro)
        except (_Retry, EncodingError):
            continue
        if cand.encoding != arch.encoding and c.check(cand) is None:
            return cand
    raise RuntimeError(f"no valid {level}-level mutation of {arch} found in {max_tries} tries")


def iter_blocks(arch: Architecture) -> Iterator[BlockPlan]:
    yield from plan(arch)


def describe(arch: Architecture, input_size: int = 224, stem: str | None = None) -> list[dict]:
    """Stage-by-stage summary rows: blocks, channels, output resolution."""
    stem = stem or auto_stem(input_size)
    hw = input_size
    for s in stem_strides(stem):
        hw = _out_hw(hw, s)
    rows: list[dict] = [
        {"stage": "stem", "blocks": 3, "in_ch": 3, "out_ch": arch.c0, "out_hw": hw, "stride": _prod(stem_strides(stem))}
    ]
    for bp in plan(arch):
        if bp.stride == 2:
            hw = _out_hw(hw, 2)
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

