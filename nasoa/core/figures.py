"""One way to draw a figure and write it as a PNG, for every plot nasoa makes.

matplotlib's object API on its Agg canvas: no display, no pyplot state, no global backend switch
(so a plot made inside a user's notebook or a worker thread leaves theirs alone); the PNG goes
through :func:`nasoa.core.runtime.atomic_write_bytes`, so a reader never sees half an image.
matplotlib is imported here, when a plot is made, to keep start-up fast.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasoa.core.runtime import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["figure", "save_png"]


def figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], dpi: int,
           **subplots: Any) -> tuple[Figure, Any]:
    """A new figure and its axes (as ``plt.subplots`` returns them; ``subplots`` passes on, e.g.
    ``sharex=True``)."""
    from matplotlib.figure import Figure  # lazy: matplotlib; loads only when a plot is made

    fig = Figure(figsize=figsize, dpi=dpi)
    return fig, fig.subplots(nrows, ncols, **subplots)


def save_png(fig: Figure, path: str | Path) -> Path:
    """Lay the figure out tightly and write it to ``path`` as a PNG, atomically."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
