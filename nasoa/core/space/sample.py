"""Random ET-NAS architectures: the constraints that bound the space explored, and sampling within
them (deterministic for a seed). Mutation, the search's operator, is in :mod:`nasoa.app.search.mutation`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from nasoa.core.space.cost import count_cost
from nasoa.core.space.encoding import Architecture, Block, Layer, Macro, Skip
from nasoa.core.space.plan import plan
from nasoa.core.space.vocab import OPS, RATIOS, SKIP_KINDS, EncodingError

__all__ = ["Constraints", "as_rng", "sample_block", "sample_macro", "sample"]


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


def as_rng(seed: int | random.Random | None) -> random.Random:
    """``seed`` itself when it is a ``random.Random`` (a caller's stream goes on), else a new one."""
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
        if c0 * math.prod(mults) > c.max_channels:
            continue
        return Macro(tuple(mults), tuple(down))
    raise RuntimeError("could not sample a macro under these constraints")


def sample(seed: int | random.Random | None = None, constraints: Constraints | None = None) -> Architecture:
    """A random valid architecture that satisfies ``constraints`` (deterministic for a seed)."""
    rng = as_rng(seed)
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
