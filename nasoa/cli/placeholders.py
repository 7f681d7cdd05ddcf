"""Commands whose capability is not built yet: each says so and exits 2."""

from __future__ import annotations

import typer

from ._common import not_built

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}

# name -> (help, issue, is_group)
PENDING: dict[str, tuple[str, int, bool]] = {
    "train": ("Fine-tune one model with one explicit regime on one dataset, within a budget.", 4, False),
    "search": ("Multi-objective NAS over the ET-NAS space (accuracy vs measured step time).", 5, False),
    "zoo": ("List, show, pretrain and add zoo members.", 5, True),
    "meta": ("The meta-learning engine: collect experience, fit, evaluate, inspect.", 6, True),
    "adapt": ("Pick a model and a regime in one shot for a dataset and a budget, fine-tune, learn.", 7, False),
    "bench": ("Benchmarks: kernels, zoo, adapt.", 3, True),
}


def _make(name: str, issue: int):
    def command(ctx: typer.Context) -> None:
        not_built(name, issue)

    return command


def register(app: typer.Typer, skip: set[str] | None = None) -> None:
    for name, (help_, issue, is_group) in PENDING.items():
        if skip and name in skip:
            continue
        cmd = _make(name, issue)
        app.command(name, help=f"{help_} [not built yet]", context_settings=_PASS_THROUGH)(cmd)
