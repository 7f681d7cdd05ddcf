"""The pretrained zoo: searched ET-NAS members and ImageNet members, found by name.

Importing it registers its members in the model registry (:mod:`nasoa.core.models`), read lazily
on the first lookup, as a family registers into timm's registry; so ``create_model`` and
``list_models`` re-exported here know the zoo.
"""

from nasoa.core.models import create_model, list_models, register_source, reset_registry

from .registry import entries, profiled_records, read_side, record, records

register_source("zoo", entries)

__all__ = ["create_model", "entries", "list_models", "profiled_records", "read_side", "record", "records",
           "reset_registry"]
