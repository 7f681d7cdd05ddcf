"""The search's mutation operators on ET-NAS architectures: one change at the block level (an op, a
channel ratio, a skip, a layer) or at the macro level (a block inserted or removed, a downsampling or
channel-doubling point moved), as vega's DnetNas mutates; each result is valid and within the
constraints.
"""

from __future__ import annotations

import random
from dataclasses import replace

from nasoa.core.space import (
    SKIP_KINDS,
    Architecture,
    Block,
    Constraints,
    EncodingError,
    Layer,
    Macro,
    Skip,
    as_rng,
    parse_macro,
)

__all__ = ["BLOCK_MUTATIONS", "MACRO_MUTATIONS", "mutate"]

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
    rng = as_rng(seed)
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
