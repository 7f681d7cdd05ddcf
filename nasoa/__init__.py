"""nasoa: faster task-oriented online fine-tuning with a zoo of training-efficient ET-NAS models.

Importing nasoa is cheap: names load on first use (PEP 562), torch only when a function needs it,
so ``nasoa --help`` stays instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Architecture": "nasoa.space",
    "EncodingError": "nasoa.space",
    "parse": "nasoa.space",
    "NasoaError": "nasoa.errors",
    "create_model": "nasoa.models",
    "list_models": "nasoa.models",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from .errors import NasoaError
    from .models import create_model, list_models
    from .space import Architecture, EncodingError, parse


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nasoa' has no attribute {name!r}")
