"""nasoa: faster task-oriented online fine-tuning with a zoo of training-efficient ET-NAS models.

Importing nasoa is cheap: names load on first use (PEP 562), torch only when a function needs it,
so ``nasoa --help`` stays instant.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# How OpenMP's idle threads wait for work, unless the user chose: set before torch loads its OpenMP
# runtime. Spinning without bound starves other processes: two concurrent 15 s adapts on 2 cores
# stepped at 1.7-2.9 s instead of ~60 ms (bench/results/contention/). Sleeping at once
# (OMP_WAIT_POLICY=PASSIVE) fixes that but costs 1.4-2x in step time on an idle machine, where a
# step's many small operators each wake the other thread: two threads then trained no faster than
# one. So libgomp (torch's on Linux) spins briefly (GOMP_SPINCOUNT overrides the policy there), other
# runtimes sleep, and a process that starts while another trains takes only the cores left free
# (nasoa.core.runtime.training_threads). Measured in bench/results/threads-20261204/.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ["GOMP_SPINCOUNT"] = "3000"

_EXPORTS = {
    "Architecture": "nasoa.core.space",
    "EncodingError": "nasoa.core.space",
    "parse": "nasoa.core.space",
    "NasoaError": "nasoa.core.errors",
    "create_model": "nasoa.zoo",  # the registry with the zoo's members registered
    "list_models": "nasoa.zoo",
    # The jobs, as the CLI runs them: `nasoa adapt`, `nasoa predict`, `nasoa export`, and the loader
    # behind every DATA.
    "adapt": "nasoa.app.adapt",
    "predict": "nasoa.app.predict",
    "export_run": "nasoa.app.export_model",
    "load_task": "nasoa.core.data",
    "DataError": "nasoa.core.data",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from .app.adapt import adapt
    from .app.export_model import export_run
    from .app.predict import predict
    from .core.data import DataError, load_task
    from .core.errors import NasoaError
    from .core.models import create_model, list_models
    from .core.space import Architecture, EncodingError, parse


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nasoa' has no attribute {name!r}")
