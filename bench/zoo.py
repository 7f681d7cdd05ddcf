"""``nasoa bench zoo``: the zoo's training efficiency against timm baselines on the source task.

Every zoo ET-NAS architecture and every baseline (resnet18, mobilenetv3, efficientnet_b0,
regnety_002; random init, stem adapted to 32 px) is trained from scratch on the source task
(MNIST + Fashion-MNIST train splits) under the same wall-clock budgets, side by side in one run,
with the same regime; accuracy is measured on the source test splits, step time with the zoo's
profiler. For each baseline and budget we report the fastest zoo member that matches or beats the
baseline's accuracy and the ratio of their step times: our analogue of NASOA's "1.7x faster than
EfficientNet-B3, 6x faster than RegNetY-16GF at equal accuracy".
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from nasoa.core.figures import figure, save_png
from nasoa.core.profile import measure_train_step
from nasoa.core.train import BudgetTooSmallError, Regime, evaluate, finetune
from nasoa.zoo import records

from .provenance import fields, provenance

# A 1,000-image validation split (50 per class) keeps the in-budget evaluation short for every
# model (resnet18 at 32 px with a stride-1 stem needs ~0.56 GFLOPs per image); the rest trains.
# Accuracy is then measured outside the budget on a fixed 5,000-image subset of the test splits.
SOURCE = "builtin:mnist+fashion?val_per_class=50&size=32"
TEST_IMAGES = 5000


def _models(zoo_names: list[str] | None, baselines: tuple[str, ...],
            encodings: dict[str, str] | None = None) -> list[tuple[str, str, Callable]]:
    from nasoa.core.net import ETNasNet  # lazy: torch; `bench zoo --merge` only reads JSON
    from nasoa.zoo.baselines import create_baseline  # lazy: torch; `bench zoo --merge` only reads JSON

    members = encodings or {r["name"]: r["encoding"] for r in records() if r.get("family") == "etnas"}
    out = []
    for name, enc in members.items():
        if zoo_names and name not in zoo_names:
            continue
        out.append((name, "zoo", lambda k, enc=enc: ETNasNet(enc, num_classes=k, input_size=32)))
    for b in baselines:
        out.append((b, "baseline", lambda k, b=b: create_baseline(b, k, 32)))
    return out


def run(budgets_s: list[float], out: Path, seed: int = 0, zoo_names: list[str] | None = None,
        baselines: tuple[str, ...] | None = None, log: Callable[[str], None] = print,
        encodings: dict[str, str] | None = None) -> dict[str, Any]:
    """``encodings`` (name -> encoding) benchmarks architectures not yet in the registry."""
    import torch  # lazy: torch; `bench zoo --merge` only reads JSON

    from nasoa.core.data import Batches, load_task, load_test  # lazy: torch; `bench zoo --merge` only reads JSON
    from nasoa.zoo.baselines import BASELINES  # lazy: torch; `bench zoo --merge` only reads JSON

    baselines = BASELINES if baselines is None else baselines
    task = load_task(SOURCE, seed=seed)
    test = load_test(SOURCE, seed=seed)
    keep = torch.randperm(test.num_val, generator=torch.Generator().manual_seed(seed))[:TEST_IMAGES]
    test_x, test_y = test.x_val[keep], test.y_val[keep]
    regime = Regime(lr=0.05, batch_size=128, schedule="cosine", label_smoothing=0.1, weight_decay=5e-4)
    rows: list[dict[str, Any]] = []
    out.mkdir(parents=True, exist_ok=True)
    for name, kind, make in _models(zoo_names, baselines, encodings):
        torch.manual_seed(seed)
        st = measure_train_step(make(task.num_classes), 64, 32, task.num_classes, warmup=3, repeats=10)
        params = sum(p.numel() for p in make(task.num_classes).parameters())
        for b in budgets_s:
            torch.manual_seed(seed)
            model = make(task.num_classes)
            t = time.time()
            try:
                res = finetune(model, task, regime, b, seed=seed, progress=False, hflip=False)
            except BudgetTooSmallError as e:  # this model cannot even evaluate within the budget
                rows.append({"model": name, "kind": kind, "budget_s": b, "test_accuracy": None, "val_accuracy": None,
                             "steps": 0, "epochs": 0.0, "train_step_ms": st.median_ms, "step_iqr_ms": st.iqr_ms,
                             "params": params, "elapsed_s": round(time.time() - t, 2), "diverged": False,
                             "infeasible": str(e)})
                log(f"{name:24s} {b:6.0f}s  infeasible: {e}")
                _save(out, rows, budgets_s, seed, regime, provenance)
                continue
            test_batches = Batches(test_x, test_y, 256, shuffle=False, mean=(0.5,) * 3, std=(0.5,) * 3)
            acc, _, n = evaluate(model, test_batches, "cpu")
            rows.append({"model": name, "kind": kind, "budget_s": b, "test_accuracy": acc, "val_accuracy": res.val_accuracy,
                         "steps": res.steps, "epochs": res.epochs, "train_step_ms": st.median_ms, "step_iqr_ms": st.iqr_ms,
                         "params": params, "elapsed_s": round(time.time() - t, 2), "diverged": res.diverged})
            log(f"{name:24s} {b:6.0f}s  test acc {acc:.4f}  {res.epochs:.2f} epochs  step {st.median_ms:.1f} ms")
            _save(out, rows, budgets_s, seed, regime, provenance)  # partial results survive a crash
    return _save(out, rows, budgets_s, seed, regime, provenance)


def _save(out: Path, rows: list[dict[str, Any]], budgets_s, seed: int, regime, provenance) -> dict[str, Any]:
    result = {"suite": "zoo", "provenance": provenance(), "source": SOURCE, "test_images": TEST_IMAGES,
              "regime": regime.to_dict(), "budgets_s": list(budgets_s), "seed": seed, "rows": rows,
              "ratios": compare(rows)}
    write(out, result)
    return result


def write(out: Path, result: dict[str, Any]) -> None:
    (out / "zoo.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "zoo.md").write_text(markdown(result))
    plot(result["rows"], out / "zoo.png")


def merge(dirs: list[Path], out: Path) -> dict[str, Any]:
    """One table from runs of the suite split across processes (e.g. one per core)."""
    parts = [json.loads((d / "zoo.json").read_text()) for d in dirs]
    result = dict(parts[0])
    result["rows"] = [r for p in parts for r in p["rows"]]
    result["ratios"] = compare(result["rows"])
    result["parts"] = [{"dir": str(d), "provenance": p["provenance"]} for d, p in zip(dirs, parts)]
    out.mkdir(parents=True, exist_ok=True)
    write(out, result)
    return result


def compare(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per budget and baseline: the fastest zoo member at >= the baseline's accuracy, and the ratio."""
    out = []
    for b in sorted({r["budget_s"] for r in rows}):
        at = [r for r in rows if r["budget_s"] == b and r["test_accuracy"] is not None]
        zoo = [r for r in at if r["kind"] == "zoo"]
        for base in (r for r in at if r["kind"] == "baseline"):
            match = [z for z in zoo if z["test_accuracy"] >= base["test_accuracy"]]
            best = min(match, key=lambda z: z["train_step_ms"]) if match else None
            out.append({
                "budget_s": b, "baseline": base["model"], "baseline_accuracy": base["test_accuracy"],
                "baseline_step_ms": base["train_step_ms"],
                "zoo_member": best["model"] if best else None,
                "zoo_accuracy": best["test_accuracy"] if best else None,
                "zoo_step_ms": best["train_step_ms"] if best else None,
                "step_time_ratio": round(base["train_step_ms"] / best["train_step_ms"], 2) if best else None,
                "best_zoo_accuracy": max((z["test_accuracy"] for z in zoo), default=None),
            })
    return out


def markdown(result: dict[str, Any]) -> str:
    p = fields(result["provenance"])
    lines = [
        "# Zoo vs timm baselines: training from scratch on the source task under equal wall-clock budgets",
        "",
        f"Measured {p['date']} on {p['cpu']} ({p['cpu_cores']} cores, {p['torch_threads']} torch threads), "
        f"torch {p['torch']}, nasoa {p['nasoa']}. Source: MNIST + Fashion-MNIST train splits (119,000 train images, "
        "20 classes, 32 px); accuracy on a fixed 5,000-image subset of their test splits (measured outside the budget). Step time: forward + backward + SGD step, "
        "batch 64, median of 10 after warm-up. Same regime for all: "
        f"{json.dumps(result['regime'])}.",
        "",
        "| model | kind | params | step ms | " + " | ".join(f"acc @ {b:g}s" for b in result["budgets_s"]) + " |",
        "|---|---|---|---|" + "---|" * len(result["budgets_s"]),
    ]
    for name in dict.fromkeys(r["model"] for r in result["rows"]):
        rs = [r for r in result["rows"] if r["model"] == name]
        accs = " | ".join(f"{r['test_accuracy']:.4f}" if r["test_accuracy"] is not None else "infeasible"
                          for r in sorted(rs, key=lambda r: r["budget_s"]))
        lines.append(f"| {name} | {rs[0]['kind']} | {rs[0]['params'] / 1e6:.2f}M | {rs[0]['train_step_ms']:.1f} | {accs} |")
    lines += ["", "## Fastest zoo member at equal or better accuracy", "",
              "| budget | baseline | baseline acc | baseline step ms | zoo member | zoo acc | zoo step ms | step-time ratio |",
              "|---|---|---|---|---|---|---|---|"]
    for c in result["ratios"]:
        if c["zoo_member"]:
            lines.append(f"| {c['budget_s']:g}s | {c['baseline']} | {c['baseline_accuracy']:.4f} | {c['baseline_step_ms']:.1f} | "
                         f"{c['zoo_member']} | {c['zoo_accuracy']:.4f} | {c['zoo_step_ms']:.1f} | **{c['step_time_ratio']}x** |")
        else:
            best = f"{c['best_zoo_accuracy']:.4f}" if c["best_zoo_accuracy"] is not None else "-"
            lines.append(f"| {c['budget_s']:g}s | {c['baseline']} | {c['baseline_accuracy']:.4f} | {c['baseline_step_ms']:.1f} | "
                         f"none (best zoo {best}) | - | - | - |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    fig, axes = figure(1, 2, figsize=(11, 4.2), dpi=120)
    for name in dict.fromkeys(r["model"] for r in rows):
        rs = sorted((r for r in rows if r["model"] == name and r["test_accuracy"] is not None), key=lambda r: r["budget_s"])
        if not rs:
            continue
        style = "-o" if rs[0]["kind"] == "zoo" else "--s"
        axes[0].plot([r["budget_s"] for r in rs], [r["test_accuracy"] for r in rs], style, ms=4, label=name)
        axes[1].scatter([rs[-1]["train_step_ms"]], [rs[-1]["test_accuracy"]], marker="o" if rs[0]["kind"] == "zoo" else "*",
                        s=40 if rs[0]["kind"] == "zoo" else 120)
        axes[1].annotate(name, (rs[-1]["train_step_ms"], rs[-1]["test_accuracy"]), fontsize=7, xytext=(3, 2),
                         textcoords="offset points")
    axes[0].set_xlabel("training budget (s, wall clock)")
    axes[0].set_ylabel("source test accuracy")
    axes[0].legend(fontsize=7)
    axes[0].grid(alpha=0.3)
    axes[1].set_xlabel("train step ms (batch 64)")
    axes[1].set_ylabel(f"test accuracy at the largest budget")
    axes[1].set_xscale("log")
    axes[1].grid(alpha=0.3)
    save_png(fig, path)
