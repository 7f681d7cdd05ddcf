"""Task streams (``nasoa stream TASKS_FILE``): tasks arrive one after another, each is adapted to
in one shot, and the meta-model learns from every result before the next task.

The tasks file has one task per line, ``DATA BUDGET`` (``#`` starts a comment), e.g.::

    builtin:fashion?classes=0,3,5&per_class=200  60s
    /data/pets                                    5m

The stream is resumable: ``OUT/stream.json`` records every finished task, a re-run skips them.
Regret of a task is the best accuracy any run in the experience store reached on it minus the
stream's accuracy (0 when the stream's run is the best known).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from .errors import NasoaError
from .runtime import atomic_write_json, parse_duration


def read_tasks(path: str | Path) -> list[tuple[str, float]]:
    p = Path(path)
    if not p.is_file():
        raise NasoaError(f"tasks file {p} does not exist; write one task per line: DATA BUDGET")
    tasks = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise NasoaError(f"{p}:{n}: expected 'DATA BUDGET' (e.g. builtin:digits 30s), got {line!r}")
        tasks.append((parts[0], parse_duration(parts[1])))
    if not tasks:
        raise NasoaError(f"{p} lists no tasks; write one task per line: DATA BUDGET")
    return tasks


def run_stream(tasks_file: str | Path, out: str | Path, *, strategy: str = "nasoa", seed: int = 0,
               store: str | Path | None = None, device: str = "auto", log: Callable[[str], None] | None = None,
               ) -> dict[str, Any]:
    from .adapt import adapt

    tasks = read_tasks(tasks_file)
    out = Path(out)
    state_file = out / "stream.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"tasks_file": str(tasks_file), "done": []}
    done = {d["index"]: d for d in state["done"]}
    emit = log or (lambda s: None)
    for i, (data, budget) in enumerate(tasks):
        if i in done:
            continue
        t = time.time()
        m = adapt(data, budget, strategy=strategy, seed=seed + i, store=store, out=out / f"task{i:03d}", device=device,
                  start_time=t, progress=False)
        row = {"index": i, "data": data, "budget_s": budget, "model": m["model"], "regime": m["regime"],
               "val_accuracy": m["val_accuracy"], "predicted_accuracy": m.get("predicted_accuracy"),
               "elapsed_s": m["elapsed_s"], "run_id": m.get("run_id")}
        state["done"].append(row)
        atomic_write_json(state_file, state)  # a finished task is never run again
        emit(f"[{i + 1}/{len(tasks)}] {data} ({budget:g}s): {m['model']} val acc {m['val_accuracy']:.4f} "
             f"(predicted {m.get('predicted_accuracy') or float('nan'):.4f}) in {m['elapsed_s']:.1f}s")
    return report(out, state, store)


def report(out: Path, state: dict[str, Any], store: str | Path | None) -> dict[str, Any]:
    """Accuracy and regret against task index: stream.md and stream.png in ``out``."""
    from nasoa.meta.store import ExperienceStore

    st = ExperienceStore(store)
    runs = st.runs()
    best: dict[str, float] = {}
    if runs.height:
        for row in runs.select("task_spec", "val_accuracy").to_dicts():
            best[row["task_spec"]] = max(best.get(row["task_spec"], 0.0), row["val_accuracy"] or 0.0)
    rows = sorted(state["done"], key=lambda d: d["index"])
    spec_by_id = dict(zip(runs["id"].to_list(), runs["task_spec"].to_list())) if runs.height and "id" in runs.columns else {}
    for r in rows:
        spec = spec_by_id.get(r.get("run_id"), r["data"])
        r["best_known"] = max(best.get(spec, r["val_accuracy"]), r["val_accuracy"])
        r["regret"] = round(r["best_known"] - r["val_accuracy"], 5)
    lines = ["| # | task | budget s | model | val acc | predicted | regret |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        pred = r.get("predicted_accuracy")
        lines.append(f"| {r['index']} | `{r['data']}` | {r['budget_s']:g} | {r['model']} | {r['val_accuracy']:.4f} | "
                     f"{pred if pred is None else round(pred, 4)} | {r['regret']:.4f} |")
    (out / "stream.md").write_text("\n".join(lines) + "\n")
    if rows:
        _plot(rows, out / "stream.png")
    return {"tasks": len(rows), "rows": rows,
            "mean_accuracy": sum(r["val_accuracy"] for r in rows) / max(1, len(rows)),
            "mean_regret": sum(r["regret"] for r in rows) / max(1, len(rows))}


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    xs = [r["index"] for r in rows]
    ax.plot(xs, [r["val_accuracy"] for r in rows], "-o", ms=3, label="accuracy")
    ax.plot(xs, [r["regret"] for r in rows], "-s", ms=3, label="regret vs best known")
    ax.set_xlabel("task index")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    path.write_bytes(buf.getvalue())
