"""Shared pieces of the CLI: the root group that turns user errors into one line, and helpers."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup


def _user_error_types() -> tuple[type[BaseException], ...]:
    from nasoa.errors import NasoaError

    types: list[type[BaseException]] = [NasoaError]
    kernels = sys.modules.get("nasoa.kernels.dispatch")
    if kernels is not None:
        types.append(kernels.KernelConfigError)
    return tuple(types)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr as one line and return the Exit to raise."""
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    return typer.Exit(code)


class NasoaGroup(TyperGroup):
    """Root group: a NasoaError anywhere below becomes ``error: ...`` on one line and exit 2.

    Ctrl-C becomes ``interrupted`` and exit 130; the commands themselves keep their stores
    consistent (transactions, atomic renames) so nothing recorded is lost.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _user_error_types() as e:
            raise fail(str(e), getattr(e, "exit_code", 2)) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None


def not_built(command: str, issue: int) -> None:
    raise fail(f"`nasoa {command}` is not built yet (tracked in issue #{issue}); see `nasoa --help` for what works")
