"""``nasoa bench``: benchmark suites; results with provenance go to an output directory."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks (kernels, zoo, adapt) with provenance: machine, versions, date.", no_args_is_help=True)
