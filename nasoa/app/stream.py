"""Task streams (``nasoa stream TASKS_FILE``): tasks arrive one after another, each is adapted to
in one shot, and the meta-model learns from every result before the next task.

The tasks file has one task per line, ``DATA BUDGET`` (``#`` starts a comment), e.g.::

    builtin:fashion?classes=0,3,5&per_class=200  60s
    /data/pets                                    5m

Regret is measured against a reference the stream does not choose, run on the same task, split
(seed) and budget, never learned from (``learn=False``): by default the common-practice baseline
(``nasoa adapt --strategy practice``); with ``reference="grid"`` (``--oracle-grid``) the best of a
fixed small grid of such choices, each run once per task (:data:`GRID`). A task's regret is how
much the reference's validation accuracy beats the stream's (0 when the stream does as well or
better); ``margin`` is the signed difference. ``learn=False`` (``--no-learn``) is the control: the
same stream with nothing recorded, so the meta-model never changes.

The stream is resumable: ``OUT/stream.json`` records every finished run (the stream's and the
reference's, separately), a re-run skips them. Between tasks, when no budget is running, a full
LightGBM refit that was too large to run inside a task's budget is done (:func:`refit_store_model_if_due`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from nasoa.core.errors import NasoaError
import nasoa.app.adapt as adapt_module  # adapt_module.adapt, looked up at each call
from nasoa.core.figures import figure, save_png
from nasoa.core.runtime import atomic_write_json, parse_duration
from nasoa.meta.metamodel import MetaModel, default_model_dir
from nasoa.meta.store import ExperienceStore
from nasoa.zoo import profiled_records

__all__ = ["read_tasks", "run_stream", "report", "REFERENCES", "GRID"]

REFERENCES = ("practice", "grid", "none")
# The fixed grid of ``reference="grid"``: choices that consult no learned model.
GRID = ("practice", "default", "logme")

Reference = Callable[[str, float, int, Path], dict[str, Any]]


def read_tasks(path: str | Path) -> list[tuple[str, float]]:
    p = Path(path)
    if not p.is_file():
        raise NasoaError(f"tasks file {p} does not exist; write one task per line: DATA BUDGET")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise NasoaError(f"cannot read the tasks file {p} ({' '.join(str(e).split())[:120]}); write a UTF-8 text "
                         f"file with one task per line: DATA BUDGET") from None
    tasks = []
    for n, line in enumerate(text.splitlines(), 1):
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


def _adapt_reference(strategies: tuple[str, ...], store: str | Path | None, device: str,
                     allow_outside: bool = False) -> Reference:
    """Run each strategy once on the task (never learned from); the reference is the best of them."""
    def run(data: str, budget_s: float, seed: int, out: Path) -> dict[str, Any]:
        runs = []
        for s in strategies:
            m = adapt_module.adapt(data, budget_s, strategy=s, seed=seed, store=store, out=out / s, device=device,
                                   learn=False, progress=False, allow_outside=allow_outside)
            runs.append({"strategy": s, "model": m["model"], "val_accuracy": m["val_accuracy"],
                         "elapsed_s": m["elapsed_s"]})
        best = max(runs, key=lambda r: r["val_accuracy"])
        return {**best, "runs": runs}

    return run


def run_stream(tasks_file: str | Path, out: str | Path, *, strategy: str = "nasoa", seed: int = 0,
               store: str | Path | None = None, device: str = "auto", log: Callable[[str], None] | None = None,
               reference: str | Reference = "practice", learn: bool = True,
               allow_outside: bool = False) -> dict[str, Any]:
    """Adapt to each task in turn (learning from each run unless ``learn`` is False), run the
    reference on it, and report accuracy and regret per task (``stream.md``, ``stream.png``).
    ``allow_outside``: read CSV rows whose files lie outside their CSV's folder."""
    if isinstance(reference, str):
        if reference not in REFERENCES:
            raise NasoaError(f"unknown reference {reference!r}; choose one of {', '.join(REFERENCES)}")
        ref_name = reference
        ref_fn = None if reference == "none" else _adapt_reference(GRID if reference == "grid" else (reference,),
                                                                   store, device, allow_outside)
    else:
        ref_name, ref_fn = getattr(reference, "__name__", "custom"), reference
    tasks = read_tasks(tasks_file)
    out = Path(out)
    state_file = out / "stream.json"
    settings = {"strategy": strategy, "reference": ref_name, "learn": learn, "seed": seed}
    if state_file.exists():
        try:
            state = json.loads(state_file.read_text())
            if not isinstance(state, dict) or not isinstance(state.get("done", []), list):
                raise ValueError("not a stream state")
        except (OSError, ValueError) as e:
            raise NasoaError(f"{state_file} is unreadable ({' '.join(str(e).split())[:120]}); it is not a stream "
                             f"state: move it aside or pass another --out") from None
        old = {k: state.get("settings", {}).get(k, v) for k, v in settings.items()}
        if old != settings:
            diff = ", ".join(f"{k} {old[k]!r} (now {settings[k]!r})" for k in settings if old[k] != settings[k])
            raise NasoaError(f"{out} holds a stream run with other settings: {diff}; resume with those or pass "
                             f"another --out")
    else:
        state = {"tasks_file": str(tasks_file), "settings": settings, "done": []}
    state["settings"] = settings
    done = {d["index"]: d for d in state["done"]}
    emit = log or (lambda s: None)

    def save() -> None:
        state["done"] = sorted(done.values(), key=lambda d: d["index"])
        atomic_write_json(state_file, state)

    for i, (data, budget) in enumerate(tasks):
        row = done.get(i)
        if row is None:
            t = time.time()
            m = adapt_module.adapt(data, budget, strategy=strategy, seed=seed + i, store=store,
                                   out=out / f"task{i:03d}", device=device, start_time=t, progress=False, learn=learn,
                                   allow_outside=allow_outside)
            row = {"index": i, "data": data, "budget_s": budget, "model": m["model"], "regime": m["regime"],
                   "val_accuracy": m["val_accuracy"], "predicted_accuracy": m.get("predicted_accuracy"),
                   "recommend_ms": m.get("recommend_ms"), "elapsed_s": m["elapsed_s"], "run_id": m.get("run_id")}
            done[i] = row
            save()  # a finished run is never run again
            emit(f"[{i + 1}/{len(tasks)}] {data} ({budget:g}s): {m['model']} val acc {m['val_accuracy']:.4f} "
                 f"(predicted {m.get('predicted_accuracy') or float('nan'):.4f}) in {m['elapsed_s']:.1f}s")
            if learn:
                refit_store_model_if_due(store)  # between tasks: no budget is running
        if ref_fn is not None and "reference" not in row:
            row["reference"] = ref_fn(data, budget, seed + i, out / f"task{i:03d}-reference")
            save()
            emit(f"    reference ({row['reference'].get('strategy', ref_name)}): val acc "
                 f"{row['reference']['val_accuracy']:.4f}")
    return report(out, state)


def refit_store_model_if_due(store: str | Path | None) -> bool:
    """Run the store's due full LightGBM refit (one too large for a task's budget), reading only the
    small snapshot manifests when none is due; True when it ran."""
    st = ExperienceStore(store)
    try:
        mdir = default_model_dir(st.path)
        try:
            doc = json.loads((mdir / "metamodel.json").read_text())
            pdir = mdir / doc.get("predictor", "predictor")
            manifest = json.loads((pdir / "manifest.json").read_text())
            if manifest.get("kind") == "combo":
                manifest = json.loads((pdir / "base" / "manifest.json").read_text())
        except (OSError, ValueError):
            return False
        if not (manifest.get("state") or {}).get("refit_due"):
            return False
        return MetaModel.load(st, zoo=profiled_records()).refit_if_due()
    finally:
        st.close()


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def report(out: Path, state: dict[str, Any], store: str | Path | None = None) -> dict[str, Any]:
    """Accuracy, the reference's accuracy, regret and recommend time against task index, with
    running means: ``stream.md`` and ``stream.png`` in ``out``; the summary as a dict (``store`` is
    accepted for compatibility and unused: regret no longer looks at the store)."""
    _ = store
    rows = sorted(state["done"], key=lambda d: d["index"])
    regrets: list[float] = []
    accs: list[float] = []
    for r in rows:
        accs.append(r["val_accuracy"])
        r["mean_accuracy_so_far"] = round(_mean(accs) or 0.0, 5)
        ref = r.get("reference")
        if ref is None:
            r["regret"] = r["margin"] = None
        else:
            r["margin"] = round(r["val_accuracy"] - ref["val_accuracy"], 5)
            r["regret"] = round(max(0.0, ref["val_accuracy"] - r["val_accuracy"]), 5)
            regrets.append(r["regret"])
        r["mean_regret_so_far"] = round(_mean(regrets), 5) if regrets else None
    settings = state.get("settings", {})
    lines = [f"Stream of {len(rows)} tasks: strategy {settings.get('strategy', 'nasoa')}, learning "
             f"{'on' if settings.get('learn', True) else 'off'}, reference {settings.get('reference', 'none')}.", "",
             "| # | task | budget s | model | val acc | predicted | reference | regret | mean regret so far | "
             "recommend ms |", "|---|---|---|---|---|---|---|---|---|---|"]

    def f(v: Any) -> str:
        return "-" if v is None else f"{v:.4f}"

    for r in rows:
        ref = r.get("reference")
        ref_cell = "-" if ref is None else f"{ref.get('strategy', '')} {ref['val_accuracy']:.4f}".strip()
        lines.append(f"| {r['index']} | `{r['data']}` | {r['budget_s']:g} | {r['model']} | {r['val_accuracy']:.4f} | "
                     f"{f(r.get('predicted_accuracy'))} | {ref_cell} | {f(r['regret'])} | "
                     f"{f(r['mean_regret_so_far'])} | {f(r.get('recommend_ms')) if r.get('recommend_ms') else '-'} |")
    with_ref = [r for r in rows if r["regret"] is not None]
    summary = {
        "tasks": len(rows), "settings": settings, "rows": rows,
        "mean_accuracy": _mean(accs) or 0.0,
        "mean_regret": _mean(regrets),
        "mean_regret_first10": _mean([r["regret"] for r in with_ref[:10]]),
        "mean_regret_last10": _mean([r["regret"] for r in with_ref[-10:]]),
        "mean_recommend_ms": _mean([r["recommend_ms"] for r in rows if r.get("recommend_ms")]),
    }
    lines += ["", f"Mean accuracy {f(summary['mean_accuracy'])}; mean regret {f(summary['mean_regret'])} "
                  f"(first 10 tasks {f(summary['mean_regret_first10'])}, last 10 {f(summary['mean_regret_last10'])})."]
    out.mkdir(parents=True, exist_ok=True)
    (out / "stream.md").write_text("\n".join(lines) + "\n")
    if rows:
        _plot(rows, out / "stream.png")
    return summary


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    fig, (top, bottom) = figure(2, 1, figsize=(6.5, 5), dpi=110, sharex=True)
    xs = [r["index"] for r in rows]
    top.plot(xs, [r["val_accuracy"] for r in rows], "-o", ms=3, label="stream")
    refs = [(r["index"], r["reference"]["val_accuracy"]) for r in rows if r.get("reference")]
    if refs:
        top.plot(*zip(*refs), "-s", ms=3, alpha=0.7, label="reference")
    top.plot(xs, [r["mean_accuracy_so_far"] for r in rows], "--", lw=1, color="grey", label="stream, running mean")
    top.set_ylabel("validation accuracy")
    top.legend(fontsize=7)
    top.grid(alpha=0.3)
    reg = [(r["index"], r["regret"], r["mean_regret_so_far"]) for r in rows if r["regret"] is not None]
    if reg:
        bottom.bar([x for x, _, _ in reg], [v for _, v, _ in reg], color="tab:red", alpha=0.5, label="regret")
        bottom.plot([x for x, _, _ in reg], [m for _, _, m in reg], "-", color="tab:red", label="running mean")
        bottom.legend(fontsize=7)
    else:
        bottom.text(0.5, 0.5, "no reference: regret not measured", ha="center", va="center",
                    transform=bottom.transAxes, fontsize=8)
    bottom.set_ylabel("regret vs reference")
    bottom.set_xlabel("task index")
    bottom.grid(alpha=0.3)
    save_png(fig, path)
