"""The ``nasoa`` command line: a thin Typer shell over the Python API.

Start-up rule: each command function imports its application (``nasoa.app``, ``nasoa.bench``,
``nasoa.meta``, ``nasoa.zoo``, torch, rich) inside its body, when it runs, so that ``nasoa --help``,
a usage error or a budget refused as too small answer at once instead of paying seconds of torch,
polars and lightgbm imports for a command that is not run. Only what is cheap and shared is
imported at a module's top (the standard library, ``nasoa.core.errors``, ``nasoa.core.runtime``,
this package's own helpers). These function-level imports are the CLI's one exception to the
house rule (elsewhere an import inside a function says ``# lazy: <reason>`` on its line); they
need no per-line comment: this docstring is their reason.
"""
