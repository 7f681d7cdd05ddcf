"""nasoa: faster task-oriented online fine-tuning with a zoo of training-efficient ET-NAS models.

Importing nasoa is cheap: torch and the rest load when a function that needs them is called.
"""

from __future__ import annotations

from .errors import NasoaError
from .models import create_model, list_models
from .space import Architecture, EncodingError, parse

__version__ = "0.1.0"

__all__ = ["Architecture", "EncodingError", "NasoaError", "__version__", "create_model", "list_models", "parse"]
