"""The alphabet of ET-NAS encodings: the ops, channel ratios, block multipliers and skip kinds
their digits stand for, and :class:`EncodingError`, which every check of an encoding raises.

Below both :mod:`~nasoa.core.space.encoding` (the records and the parser) and
:mod:`~nasoa.core.space.plan` (the channel plan that decides whether a record is buildable).
"""

from __future__ import annotations

from nasoa.core.errors import NasoaError

__all__ = ["OPS", "RATIOS", "MULTIPLIERS", "SKIP_KINDS", "MAX_PLACES", "EncodingError"]

OPS: tuple[str, ...] = (
    "conv3",  # 0: 3x3, groups=1
    "conv1",  # 1: 1x1
    "conv3_grp2",  # 2: 3x3, groups=2
    "conv3_grp4",  # 3: 3x3, groups=4
    "conv3_base1",  # 4: 3x3, groups=in_channels (depthwise, 1 input channel per group)
    "conv3_base32",  # 5: 3x3, groups=in_channels // 32 (32 input channels per group)
    "conv3_sep",  # 6: depthwise 3x3 then 1x1, no BatchNorm between them
)
#: Channel ratio digit -> multiplier of the block's output channels (``out * 2**d // 4``).
RATIOS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
MULTIPLIERS: tuple[int, ...] = (1, 2, 4)
SKIP_KINDS: tuple[str, ...] = ("a", "c")
MAX_PLACES = 9  # skip places are single digits


class EncodingError(NasoaError, ValueError):
    """A malformed or unbuildable encoding; names the character position and the reason."""

    def __init__(self, reason: str, position: int | None = None, encoding: str | None = None):
        self.reason = reason
        self.position = position
        self.encoding = encoding
        where = f"position {position}" if position is not None else "encoding"
        text = f"{where}: {reason}"
        if encoding is not None:
            text = f"invalid encoding {encoding!r} at {text}"
        super().__init__(text)

    def shifted(self, offset: int, encoding: str) -> "EncodingError":
        """The same error with its position made relative to a larger string."""
        pos = None if self.position is None else self.position + offset
        return EncodingError(self.reason, pos, encoding)
