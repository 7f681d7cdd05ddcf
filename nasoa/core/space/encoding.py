"""ET-NAS encodings: the records of an architecture (block, stem width, macro) and their parser.

An architecture is written ``"{block}_{C0}_{macro}"`` exactly as the released ET-NAS models are
(NASOA, ICCV 2021; ``etnas.py`` of NAS-OA/NASOA), e.g. ``031-_64_1-1-221-11121``:

* **block** ``"<layers>-<skips>"``: digit pairs ``(op, ratio)`` per layer, the last layer's ratio
  omitted (always x1); then 3-character skip tokens ``t i j`` (``a`` add / ``c`` concat from place
  ``i`` to place ``j``; place 0 is the block input, place k the pre-ReLU output of layer k), sorted
  by target. A residual ``a0n`` from the input to the last place is always implied.
* **C0**: the stem's output channels.
* **macro**: one digit per block, the block's channel multiplier (1, 2 or 4); a ``-`` before a
  digit makes that block stride 2 and starts a new stage.

Constructing a record validates it: :class:`Architecture` plans its channels
(:func:`~nasoa.core.space.plan.plan`), so an unbuildable one never exists. Pure Python (no torch), as
the whole :mod:`nasoa.core.space` package is, so that the CLI and the meta-learner can reason about
architectures without importing a deep-learning stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nasoa.core.space.plan import plan
from nasoa.core.space.vocab import MAX_PLACES, MULTIPLIERS, OPS, RATIOS, SKIP_KINDS, EncodingError

__all__ = ["Layer", "Skip", "Block", "Macro", "Architecture", "parse", "parse_block", "parse_macro"]


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
