"""What a run of the search reports (:class:`SearchReport`) and writes in the search dir: front.md,
candidates.csv, search.json and the front's plot, front.png.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nasoa.app.search.config import SearchConfig
from nasoa.app.search.pareto import pareto_front
from nasoa.app.search.store import SearchStore
from nasoa.core.figures import figure, save_png
from nasoa.core.runtime import atomic_write_bytes, atomic_write_json, machine, utc_now, versions

__all__ = ["SearchReport", "write_outputs", "plot_front"]


@dataclass
class SearchReport:
    """What one run of :func:`~nasoa.app.search.loop.run_search` did, and the front it left."""

    search_dir: str
    evaluated: int
    new: int
    rejected: int
    failed: int
    elapsed_s: float
    stop_reason: str
    front: list[dict[str, Any]] = field(default_factory=list)


def write_outputs(sdir: Path, store: SearchStore, cfg: SearchConfig, report: SearchReport, baselines: list[dict] | None = None) -> None:
    """front.md, front.csv, front.png and search.json in the search dir."""
    rows = store.rows()
    front = pareto_front(rows) if rows else []
    lines = ["| encoding | phase | val acc | step ms | params | MMACs |", "|---|---|---|---|---|---|"]
    for r in front:
        lines.append(f"| `{r['encoding']}` | {r['phase']} | {r['accuracy']:.4f} | {r['step_ms']:.1f} | {r['params']:,} | {r['macs'] / 1e6:.1f} |")
    atomic_write_bytes(sdir / "front.md", ("\n".join(lines) + "\n").encode())
    csv = ["encoding,phase,accuracy,step_ms,params,macs,on_front"]
    fset = {r["encoding"] for r in front}
    for r in rows:
        csv.append(f"{r['encoding']},{r['phase']},{r['accuracy']},{r['step_ms']},{r['params']},{r['macs']},{int(r['encoding'] in fset)}")
    atomic_write_bytes(sdir / "candidates.csv", ("\n".join(csv) + "\n").encode())
    atomic_write_json(sdir / "search.json", {
        "kind": "nasoa.search", "updated": utc_now(), "config": cfg.to_dict(), "seed": cfg.seed,
        "evaluated": len(rows), "this_run": asdict(report) | {"front": None}, "front": front,
        "versions": versions(), "machine": machine(),
    })
    if rows:
        plot_front(rows, front, sdir / "front.png", baselines)


def plot_front(rows, front, path: Path, baselines: list[dict] | None = None) -> None:
    fig, ax = figure(figsize=(7, 4.5), dpi=120)
    for phase, marker in (("block", "o"), ("macro", "s")):
        pts = [r for r in rows if r["phase"] == phase]
        ax.scatter([r["step_ms"] for r in pts], [r["accuracy"] for r in pts], s=18, alpha=0.45, marker=marker,
                   label=f"{phase}-level candidates ({len(pts)})")
    ax.plot([r["step_ms"] for r in front], [r["accuracy"] for r in front], "-o", color="crimson", lw=1.5, ms=5,
            label=f"Pareto front ({len(front)})")
    for b in baselines or []:
        ax.scatter([b["step_ms"]], [b["accuracy"]], marker="*", s=120, color="black")
        ax.annotate(b["name"], (b["step_ms"], b["accuracy"]), fontsize=7, xytext=(4, 2), textcoords="offset points")
    ax.set_xlabel("measured training step time (ms, batch 64, this machine)")
    ax.set_ylabel("proxy validation accuracy")
    ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save_png(fig, path)
