"""Shared pieces of the CLI: the root group that turns user errors into one line, and helpers."""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings

import typer
from typer.core import TyperGroup

from nasoa.core.errors import NasoaError


def _user_error_types() -> tuple[type[BaseException], ...]:
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


def _usage_error_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(usage errors, "called bare: show the help" errors) of the click that typer runs on: its own
    vendored copy in recent typer releases, click itself in older ones."""
    usage = {c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"}
    bare = {getattr(sys.modules[c.__module__], "NoArgsIsHelpError", None) for c in usage}
    return tuple(usage), tuple(b for b in bare if b is not None)


def os_error_message(e: OSError) -> str:
    """An OSError from a path the user gave, as what is wrong and what to do."""
    what = e.strerror or " ".join(str(e).split()) or type(e).__name__
    where = f" {e.filename}" if e.filename else ""
    if e.filename2:
        where += f" -> {e.filename2}"
    if isinstance(e, FileNotFoundError):
        fix = "check the path; create missing folders first"
    elif isinstance(e, PermissionError):
        fix = "pick a path you may read and write"
    elif isinstance(e, (IsADirectoryError, NotADirectoryError)):
        fix = "pass a file inside an existing folder"
    elif isinstance(e, FileExistsError):
        fix = "a file stands where a folder is needed: pick another path"
    else:
        fix = "check the path, the disk and its permissions"
    return f"cannot use{where}: {what}; {fix}"


def print_table(table, narrow=None) -> None:
    """Print a rich ``Table`` on stdout. Piped or redirected (no terminal, no ``COLUMNS`` set), it is
    printed at its natural width, so that a log, ``grep`` or ``less -S`` gets each row whole on one line
    rather than squeezed into rich's 80-column default. On a terminal narrower than the table, ``narrow()``
    prints it another way where given; otherwise rich fits it, wrapping the text columns first and cutting
    the ``no_wrap`` ones (the names a user types back) last."""
    from rich.console import Console

    console = Console()
    natural = console.measure(table, options=console.options.update_width(10_000)).maximum
    if natural <= console.width:
        console.print(table)
    elif not console.is_terminal and not os.environ.get("COLUMNS"):
        Console(width=natural).print(table)
    elif narrow is not None:
        narrow()
    else:
        console.print(table)


def silence_stdout() -> None:
    """Point stdout at the null device, so that output still buffered for a reader that went away
    is dropped at exit instead of raising a second BrokenPipeError there."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (a test runner's capture): nothing to silence
        pass


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as the CLI prints them: ``warning: ...`` on one line, no source line; each data
    warning is printed here and only here."""
    typer.echo(f"warning: {' '.join(str(message).split())}", err=True)


class NasoaGroup(TyperGroup):
    """Root group: a NasoaError, an OSError (a path the user gave that cannot be read or written)
    or a usage error anywhere below becomes ``error: ...`` on one line and exit 2 (a usage error:
    click's code, 2); warnings become ``warning: ...`` lines.

    Ctrl-C becomes ``interrupted`` and exit 130; the commands themselves keep their stores
    consistent (transactions, atomic renames) so nothing recorded is lost.
    """

    def invoke(self, ctx):
        global _COMMAND_START
        _COMMAND_START = ENTRY_START if ENTRY_START is not None else time.time()
        usage_errors, bare_group = _usage_error_types()
        shown = warnings.showwarning
        warnings.showwarning = show_warning
        try:
            return super().invoke(ctx)
        except _user_error_types() as e:
            raise fail(str(e), getattr(e, "exit_code", 2)) from None
        except BrokenPipeError:
            # Whoever read the output went away (`nasoa data show DIR | head`): not the user's input
            # at fault, so no error line; the shell's code for a broken pipe, as `cat` would give.
            silence_stdout()
            raise typer.Exit(141) from None
        except OSError as e:
            raise fail(os_error_message(e)) from None
        except bare_group:
            raise  # a group called bare: click prints its help
        except usage_errors as e:
            where = e.ctx.command_path if getattr(e, "ctx", None) is not None else ctx.command_path
            raise fail(f"{e.format_message().rstrip('.')}; see `{where} --help`", e.exit_code) from None
        except KeyboardInterrupt:
            if TERMINATED:
                typer.echo("terminated", err=True)
                raise typer.Exit(143) from None
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        finally:
            warnings.showwarning = shown


TERMINATED = False


def _on_sigterm(signum, frame) -> None:
    global TERMINATED
    TERMINATED = True
    raise KeyboardInterrupt


def handle_sigterm() -> None:
    """Make SIGTERM (a scheduler or ``kill`` stopping a job) take Ctrl-C's path: the command stops
    where it is, keeps every store consistent and marks its run interrupted; exit 143. Also what
    stops a background job, whose SIGINT the shell ignores."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
