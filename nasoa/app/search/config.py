"""The settings of a search (:class:`SearchConfig`): the proxy training, the two phases' sizes, the
limits and the space each phase explores. Stored with the search, so a resumed search uses the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nasoa.core.space import Constraints

__all__ = ["SearchConfig"]


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search; stored with it, so a resumed search uses the same."""

    source: str = "builtin:mnist+fashion?per_class=150&size=32"
    # The proxy is a fixed number of epochs (as vega's DnetNas trains 1-2 epochs per candidate),
    # capped in time. A fixed *time* proxy lets the smallest networks win both objectives (they
    # fit more epochs in the same seconds), which collapses the front to a few tiny members.
    proxy_epochs: float = 3.0
    proxy_budget_s: float = 45.0
    proxy_lr: float = 0.05
    batch_size: int = 64
    input_size: int = 32
    block_candidates: int = 28
    macro_candidates: int = 36
    skeleton_c0: int = 16
    skeleton_macro: str = "1-21-21-2"
    top_blocks: int = 2
    max_params: int = 4_000_000
    max_step_ms: float = 400.0
    random_ratio: float = 0.3
    min_random: int = 6
    seed: int = 0
    c0_choices: tuple[int, ...] = (8, 16, 24, 32)
    min_depth: int = 4
    max_depth: int = 14
    n_downsamples: tuple[int, ...] = (2, 3)
    max_layers: int = 3
    max_skips: int = 2

    def block_constraints(self) -> Constraints:
        return Constraints(
            max_layers=self.max_layers, max_skips=self.max_skips, c0_choices=(self.skeleton_c0,),
            min_depth=1, max_depth=64, n_downsamples=tuple(range(0, 8)), max_channels=4096,
            max_params=self.max_params, params_input_size=self.input_size, params_num_classes=20,
        )

    def macro_constraints(self) -> Constraints:
        return Constraints(
            max_layers=self.max_layers, max_skips=self.max_skips, c0_choices=self.c0_choices,
            min_depth=self.min_depth, max_depth=self.max_depth, n_downsamples=self.n_downsamples,
            n_doublings=(1, 2, 3, 4), first_multipliers=(1, 2), max_channels=512,
            max_params=self.max_params, params_input_size=self.input_size, params_num_classes=20,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SearchConfig":
        d = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**d)
