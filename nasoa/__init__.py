"""nasoa: faster task-oriented online fine-tuning with a zoo of training-efficient ET-NAS models.

Importing nasoa is cheap: names load on first use (PEP 562), torch only when a function needs it,
so ``nasoa --help`` stays instant.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# OpenMP threads that wait for work by sleeping, not spinning, unless the user chose otherwise. Set
# before torch loads its OpenMP runtime. Several nasoa processes on one machine (concurrent adapts,
# a collection beside a training) oversubscribe the cores, and spinning threads then starve each
# other: two 15 s adapts on 2 cores stepped at 1.7-2.9 s instead of ~60 ms and stopped after two
# steps at chance accuracy; with passive waiting they trained 70+ steps to 0.92-0.94
# (bench/results/contention/). On an idle machine it costs a few percent of step time.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_EXPORTS = {
    "Architecture": "nasoa.core.space",
    "EncodingError": "nasoa.core.space",
    "parse": "nasoa.core.space",
    "NasoaError": "nasoa.core.errors",
    "create_model": "nasoa.zoo",  # the registry with the zoo's members registered
    "list_models": "nasoa.zoo",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from .core.errors import NasoaError
    from .core.models import create_model, list_models
    from .core.space import Architecture, EncodingError, parse


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nasoa' has no attribute {name!r}")
