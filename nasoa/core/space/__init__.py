"""The ET-NAS search space, pure Python (no torch): encodings and their parser
(:mod:`~nasoa.core.space.encoding`, over the alphabet in :mod:`~nasoa.core.space.vocab`), the channel
and resolution plan (:mod:`~nasoa.core.space.plan`), parameter and MAC counts
(:mod:`~nasoa.core.space.cost`) and random sampling under constraints (:mod:`~nasoa.core.space.sample`).

The search's mutation operators live with the search, in :mod:`nasoa.app.search.mutation`.
"""

from __future__ import annotations

from nasoa.core.space.cost import Cost, count_cost
from nasoa.core.space.encoding import Architecture, Block, Layer, Macro, Skip, parse, parse_block, parse_macro
from nasoa.core.space.plan import (
    BlockPlan,
    LayerPlan,
    SkipPlan,
    auto_stem,
    block_summary,
    describe,
    iter_blocks,
    plan,
    stem_strides,
)
from nasoa.core.space.sample import Constraints, as_rng, sample, sample_block, sample_macro
from nasoa.core.space.vocab import MAX_PLACES, MULTIPLIERS, OPS, RATIOS, SKIP_KINDS, EncodingError

__all__ = [
    "OPS",
    "RATIOS",
    "MULTIPLIERS",
    "SKIP_KINDS",
    "MAX_PLACES",
    "EncodingError",
    "Layer",
    "Skip",
    "Block",
    "Macro",
    "Architecture",
    "parse",
    "parse_block",
    "parse_macro",
    "LayerPlan",
    "SkipPlan",
    "BlockPlan",
    "plan",
    "iter_blocks",
    "describe",
    "block_summary",
    "stem_strides",
    "auto_stem",
    "Cost",
    "count_cost",
    "Constraints",
    "as_rng",
    "sample",
    "sample_block",
    "sample_macro",
]
