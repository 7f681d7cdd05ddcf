"""Errors that reach a user as one line: what is wrong and what to do."""

from __future__ import annotations


def first_line(e: BaseException) -> str:
    """The first line of an exception's message ("" when it has none): what a one-line report of a
    failure in a worker, a cluster or a search trial shows."""
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


class NasoaError(Exception):
    """A problem with the user's input or environment; the CLI prints it as one line, exit 2."""

    exit_code = 2


class PretrainedUnavailableError(NasoaError):
    """Pretrained weights were asked for a model that has none on this machine."""


class BudgetTooSmallError(NasoaError):
    """A time budget cannot fit what was asked; ``minimum_s`` is the smallest budget that would."""

    def __init__(self, message: str, minimum_s: float):
        super().__init__(message)
        self.minimum_s = minimum_s
