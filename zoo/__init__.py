"""The pretrained zoo: searched ET-NAS members and ImageNet members, found by name."""

from .registry import entries, record, records

__all__ = ["entries", "record", "records"]
