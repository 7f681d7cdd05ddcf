"""Build the experience to ship from (1) the previously shipped 613 runs, their task features
recomputed with the current definitions (`nasoa meta refresh`), and (2) this collection's runs
that got at least MIN_CPU_SHARE of their core (extra.cpu_share). A run that shared its core
trained for less than its budget says; the meta-model learns from the epochs and step time it
actually ran (its ``planned_epochs`` and ``step_ms`` features are the measured ones), so such a run
is still evidence of what its regime reaches in that many epochs. This session's tests shared the
cores for its first hour (shares 0.3-0.67): those runs are kept, the threshold only drops runs
that were starved.

The runs with ids up to :data:`WALL_PROBE_LAST_ID` recorded the first version of the speed probe
(wall-clock time, measured once per 10 minutes: two of its values read 2.3x while development
shared the core, and stood for the runs after them); they ship without it, as runs of unknown
speed (the time model still learns members' relative speeds from them). Later runs record the
probe as shipped (CPU time, measured before each run).

    .venv/bin/python bench/results/collect-20261201/combine.py OUT.sqlite
    .venv/bin/nasoa meta ship OUT.sqlite --dest meta/data
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

from nasoa.meta.store import ExperienceStore

HERE = Path(__file__).resolve().parent
MIN_CPU_SHARE = 0.3
WALL_PROBE_LAST_ID = 2050


def _without_wall_probe(extra: str, run_id: int) -> str:
    if run_id > WALL_PROBE_LAST_ID:
        return extra
    e = json.loads(extra)
    e.pop("speed_probe_ms", None)
    return json.dumps(e)


def main(out: str, select: pl.Expr | None = None) -> None:
    """``select``: which of the collection's runs to consider (default all; the CPU-share threshold
    still applies)."""
    dest = ExperienceStore(out)
    with tempfile.TemporaryDirectory() as tmp:
        shipped = ExperienceStore(HERE / "shipped-refreshed.sqlite", create=False)
        shipped.export_parquet(Path(tmp) / "shipped.parquet")
        n_old = dest.import_parquet(Path(tmp) / "shipped.parquet")
        if not (HERE / "collect.sqlite").exists():  # committed as collect.sqlite.xz
            subprocess.run(["bash", str(HERE / "store.sh"), "unpack"], check=True)
        col = ExperienceStore(HERE / "collect.sqlite", create=False)
        col.export_parquet(Path(tmp) / "collect.parquet")
        frame = pl.read_parquet(Path(tmp) / "collect.parquet")
        if select is not None:
            frame = frame.filter(select)
        share = [json.loads(e).get("cpu_share") for e in frame["extra"].to_list()]
        keep = frame.filter(pl.Series([s is not None and s >= MIN_CPU_SHARE for s in share]))
        keep = keep.with_columns(pl.Series("extra", [_without_wall_probe(e, i) for e, i in
                                                     zip(keep["extra"].to_list(), keep["id"].to_list())]))
        keep.write_parquet(Path(tmp) / "kept.parquet")
        n_new = dest.import_parquet(Path(tmp) / "kept.parquet")
    print(json.dumps({"shipped_runs": n_old, "collected_runs": frame.height, "kept": n_new,
                      "left_out_shared_core": frame.height - keep.height, "store": str(dest.path),
                      "tasks": dest.stats()["tasks"]}))


if __name__ == "__main__":
    main(sys.argv[1])
