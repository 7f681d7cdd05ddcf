"""Offline multi-objective NAS over the ET-NAS space (``nasoa search``): two evolutionary phases,
block level then macro level, with Pareto selection on proxy accuracy and measured step time.

:mod:`~nasoa.app.search.loop` drives it (:func:`run_search`) with the settings in
:mod:`~nasoa.app.search.config`; :mod:`~nasoa.app.search.mutation` holds the mutation operators,
:mod:`~nasoa.app.search.pareto` the selection, :mod:`~nasoa.app.search.evaluate` what a worker runs
per candidate, :mod:`~nasoa.app.search.store` the table and :mod:`~nasoa.app.search.outputs` the
files written. Candidates run on a :mod:`nasoa.app.executor` executor.
"""

from __future__ import annotations

from nasoa.app.search.config import SearchConfig
from nasoa.app.search.evaluate import evaluate_candidate, evaluate_or_fail
from nasoa.app.search.loop import run_search
from nasoa.app.search.mutation import BLOCK_MUTATIONS, MACRO_MUTATIONS, mutate
from nasoa.app.search.outputs import SearchReport, plot_front, write_outputs
from nasoa.app.search.pareto import crowding, nondominated_ranks, pareto_front, tournament
from nasoa.app.search.store import SearchStore

__all__ = [
    "SearchConfig",
    "run_search",
    "SearchReport",
    "SearchStore",
    "evaluate_candidate",
    "evaluate_or_fail",
    "mutate",
    "BLOCK_MUTATIONS",
    "MACRO_MUTATIONS",
    "nondominated_ranks",
    "crowding",
    "pareto_front",
    "tournament",
    "write_outputs",
    "plot_front",
]
