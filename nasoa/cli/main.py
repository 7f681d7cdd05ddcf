"""``nasoa``: entry point. Only typer is imported at start-up; commands import what they need."""

from __future__ import annotations

import os
import sys

import typer

from nasoa.core.runtime import process_start_time

from . import _common, adapt, arch, bench, data, export, meta, predict, runs, search, stream, train, zoo
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
app.command("train")(train.train)
app.command("search")(search.search)
app.add_typer(zoo.app, name="zoo")
app.add_typer(data.app, name="data")
app.add_typer(meta.app, name="meta")
app.command("predict")(predict.predict)
app.command("export")(export.export)
app.command("runs")(runs.runs)
app.command("adapt")(adapt.adapt)
app.command("stream")(stream.stream)


def main() -> None:
    """Run the app; once torch is loaded, leave with ``os._exit`` after flushing.

    Tearing torch down at interpreter exit takes about 0.8 s here (unloading its CUDA libraries):
    time a budgeted command would otherwise spend after its deadline accounting. Every store and
    file is closed or committed before a command returns, so nothing depends on exit handlers.
    """
    _common.ENTRY_START = process_start_time()
    _common.handle_sigterm()
    try:
        app()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    if "torch" in sys.modules:
        try:
            sys.stdout.flush()
        except BrokenPipeError:  # the reader went away after the command's last write
            _common.silence_stdout()
            code = code or 141
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
