"""Shared pieces of the CLI: the root group that turns user errors into one line, and helpers."""

from __future__ import annotations

import sys
import time

import typer
from typer.core import TyperGroup


def _user_error_types() -> tuple[type[BaseException], ...]:
    from nasoa.errors import NasoaError

    types: list[type[BaseException]] = [NasoaError]
    kernels = sys.modules.get("nasoa.kernels.dispatch")
    if kernels is not None:
        types.append(kernels.KernelConfigError)
    return tuple(types)


# When the CLI runs as its own process, a command starts when the process does (interpreter start-up
# and imports count against a budget); when it is invoked in-process (tests, notebooks), it starts
# when the group is invoked.
ENTRY_START: float | None = None
_COMMAND_START: float | None = None


def command_start() -> float:
    """Wall-clock start of the running command, the origin of every budget."""
    return _COMMAND_START if _COMMAND_START is not None else time.time()


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
        global _COMMAND_START
        _COMMAND_START = ENTRY_START if ENTRY_START is not None else time.time()
        try:
            return super().invoke(ctx)
        except _user_error_types() as e:
            raise fail(str(e), getattr(e, "exit_code", 2)) from None
        except KeyboardInterrupt:
            if TERMINATED:
                typer.echo("terminated", err=True)
                raise typer.Exit(143) from None
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None


TERMINATED = False


def _on_sigterm(signum, frame) -> None:
    global TERMINATED
    TERMINATED = True
    raise KeyboardInterrupt


def handle_sigterm() -> None:
    """Make SIGTERM (a scheduler or ``kill`` stopping a job) take Ctrl-C's path: the command stops
    where it is, keeps every store consistent and marks its run interrupted; exit 143. Also what
    stops a background job, whose SIGINT the shell ignores."""
    import signal

    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
