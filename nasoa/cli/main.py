"""``nasoa``: entry point. Only typer is imported at start-up; commands import what they need."""

from __future__ import annotations

import typer

from . import arch, bench, placeholders
from ._common import NasoaGroup

app = typer.Typer(
    name="nasoa",
    cls=NasoaGroup,
    help="Faster task-oriented online fine-tuning with a zoo of training-efficient ET-NAS models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(arch.app, name="arch")
app.add_typer(bench.app, name="bench")
placeholders.register(app, skip={"bench"})


def main() -> None:
    app()


if __name__ == "__main__":
    main()
