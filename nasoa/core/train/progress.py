"""The trainer's progress display: a rich bar on stderr with elapsed vs budget, step, loss and running
train accuracy. It only shows; it decides nothing (the deadline is :mod:`nasoa.core.deadline`'s).
"""

from __future__ import annotations

import sys
import time
from typing import Callable

__all__ = ["Progress", "stderr_is_tty"]


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


class Progress:
    """A rich progress bar with elapsed vs budget, loss and running train accuracy (stderr only).

    ``elapsed`` returns the seconds since the budget's start; ``budget_s`` is that budget.
    """

    def __init__(self, enabled: bool, elapsed: Callable[[], float], budget_s: float, title: str):
        self.enabled = enabled
        self.elapsed = elapsed
        self.budget_s = budget_s
        self.title = title
        self._p = None
        self._last = 0.0
        self._acc = float("nan")

    def start(self) -> None:
        if not self.enabled:
            return
        # rich is imported only when a bar is shown: most runs (tests, collection, workers) show none.
        from rich.console import Console  # lazy: rich (~70 ms); most runs (tests, collection, workers) show no bar
        from rich.progress import BarColumn, Progress as RichProgress, TextColumn  # lazy: rich; as above

        self._p = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[time]}"),
            TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("train acc {task.fields[acc]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._p.start()
        self._task = self._p.add_task(self.title, total=1, time="", loss="-", acc="-")

    def update(self, step: int, planned: int | None, loss: float, acc: float | None) -> None:
        if self._p is None:
            return
        now = time.time()
        if now - self._last < 0.2:
            return
        self._last = now
        if acc is not None:
            self._acc = acc
        self._p.update(
            self._task,
            completed=step,
            total=max(planned or step + 1, step),
            time=f"{self.elapsed():.1f}s / {self.budget_s:.0f}s",
            loss=f"{loss:.3f}",
            acc=f"{self._acc:.3f}",
        )

    def stop(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None
