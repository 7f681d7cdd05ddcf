"""Pareto utilities of the search (maximise accuracy, minimise step time): NSGA-II non-dominated
ranks and crowding distance, the front, and the binary tournament that picks a parent to mutate.
"""

from __future__ import annotations

import math
import random
from typing import Any

__all__ = ["nondominated_ranks", "crowding", "pareto_front", "tournament"]


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def nondominated_ranks(points: list[tuple[float, float]]) -> list[int]:
    """Rank 0 for the Pareto front, 1 for the front of the rest, ... (NSGA-II sorting)."""
    n = len(points)
    ranks = [-1] * n
    remaining = set(range(n))
    r = 0
    while remaining:
        front = {i for i in remaining if not any(_dominates(points[j], points[i]) for j in remaining if j != i)}
        for i in front:
            ranks[i] = r
        remaining -= front
        r += 1
    return ranks


def crowding(points: list[tuple[float, float]], idx: list[int]) -> dict[int, float]:
    """NSGA-II crowding distance of each index within one front."""
    dist = {i: 0.0 for i in idx}
    for k in (0, 1):
        order = sorted(idx, key=lambda i: points[i][k])
        lo, hi = points[order[0]][k], points[order[-1]][k]
        dist[order[0]] = dist[order[-1]] = math.inf
        if hi == lo:
            continue
        for a, b, c in zip(order, order[1:], order[2:]):
            dist[b] += (points[c][k] - points[a][k]) / (hi - lo)
    return dist


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The non-dominated rows (accuracy up, step_ms down), sorted by step time."""
    pts = [(r["accuracy"], r["step_ms"]) for r in rows]
    ranks = nondominated_ranks(pts)
    return sorted((r for r, k in zip(rows, ranks) if k == 0), key=lambda r: r["step_ms"])


def tournament(rows: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    """Binary tournament on (non-domination rank, crowding distance): the better of two random rows."""
    pts = [(r["accuracy"], r["step_ms"]) for r in rows]
    ranks = nondominated_ranks(pts)
    crowd: dict[int, float] = {}
    for rank in set(ranks):
        crowd.update(crowding(pts, [i for i, k in enumerate(ranks) if k == rank]))
    a, b = rng.randrange(len(rows)), rng.randrange(len(rows))
    better = a if (ranks[a], -crowd[a]) <= (ranks[b], -crowd[b]) else b
    return rows[better]
