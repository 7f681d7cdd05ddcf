"""Do runs keep their deadline? ``nasoa bench budgets``: many `nasoa train` commands with random
tasks, regimes and budgets, each timed from outside as a whole process (interpreter start-up,
imports, data loading, training, evaluation, saving and exit all count)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .provenance import fields, provenance

TASKS = (
    "builtin:digits",
    "builtin:digits?classes=0,1,2,3,4&per_class=100",
    "builtin:lfw",
    "builtin:fashion?classes=0,3,5,7&per_class=150",
    "builtin:fashion?per_class=60",
    "builtin:mnist?per_class=80",
    "builtin:animal?classes=1,4,6&per_class=200",
    "builtin:mnist5k?classes=2,7&per_class=150",
)
MODELS = ("031-_8_1-1-21-1", "031-_16_1-1-221-11121", "2-_16_1-2-12-1121", "10001-_16_2-11-12-2", "011-a01_8_2-1-2-1")


def random_run(rng: random.Random, min_budget: float, max_budget: float) -> dict[str, Any]:
    return {
        "data": rng.choice(TASKS),
        "model": rng.choice(MODELS),
        "budget_s": round(rng.uniform(min_budget, max_budget), 1),
        "lr": rng.choice([0.003, 0.01, 0.03, 0.1]),
        "frozen_stages": rng.choice([0, 0, 1, 2, 3]),
        "schedule": rng.choice(["cosine", "step", "constant"]),
        "optimizer": rng.choice(["sgd", "sgd", "adamw"]),
        "batch_size": rng.choice([32, 64, 128]),
        "seed": rng.randrange(1000),
    }


def run_one(spec: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("nasoa")
    cmd = [str(exe), "train", spec["data"], "--model", spec["model"], "--scratch", "--budget", f"{spec['budget_s']}s",
           "--lr", str(spec["lr"]), "--frozen-stages", str(spec["frozen_stages"]), "--schedule", spec["schedule"],
           "--optimizer", spec["optimizer"], "--batch-size", str(spec["batch_size"]), "--seed", str(spec["seed"]),
           "--out", str(out_dir), "--json"]
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t
    row: dict[str, Any] = {**spec, "wall_s": round(wall, 3), "ratio": round(wall / spec["budget_s"], 4), "exit": p.returncode}
    if p.returncode == 0:
        out = json.loads(p.stdout.strip().splitlines()[-1])
        row.update({k: out[k] for k in ("val_accuracy", "elapsed_s", "predicted_s", "steps", "epochs", "stop_reason", "step_ms")})
    else:
        row["error"] = (p.stderr.strip().splitlines() or ["?"])[-1]
    return row


def run(n: int, out: Path, seed: int = 0, min_budget: float = 5.0, max_budget: float = 60.0, log=print) -> dict[str, Any]:
    rng = random.Random(seed)
    rows = []
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="nasoa-bench-budgets-"))  # run dirs (weights) are not results
    for i in range(n):
        spec = random_run(rng, min_budget, max_budget)
        row = run_one(spec, scratch / f"run{i:03d}")
        shutil.rmtree(scratch / f"run{i:03d}", ignore_errors=True)
        rows.append(row)
        log(f"[{i + 1}/{n}] budget {row['budget_s']:5.1f}s wall {row['wall_s']:6.2f}s ratio {row['ratio']:.3f} "
            f"acc {row.get('val_accuracy', float('nan')):.3f} {row.get('stop_reason', row.get('error', ''))}")
    ok = [r for r in rows if r["exit"] == 0]
    summary = {
        "runs": len(rows),
        "completed": len(ok),
        "max_ratio": max(r["ratio"] for r in rows),
        "median_ratio": sorted(r["ratio"] for r in rows)[len(rows) // 2],
        "all_within_1.05": all(r["ratio"] <= 1.05 for r in rows),
    }
    result = {"suite": "train-budgets", "provenance": provenance(), "seed": seed, "summary": summary, "rows": rows}
    p = fields(result["provenance"])
    (out / "budgets.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Deadline adherence of `nasoa train` ({summary['runs']} runs)",
        "",
        f"Measured {p['date']} on {p['cpu']} ({p['cpu_cores']} cores), torch {p['torch']}, nasoa {p['nasoa']}.",
        "Wall time is measured outside the process: start-up, imports, loading, training, evaluation, saving, exit.",
        "",
        f"max wall/budget **{summary['max_ratio']:.3f}**, median {summary['median_ratio']:.3f}; "
        f"every run within 1.05: **{summary['all_within_1.05']}**",
        "",
        "| # | data | model | budget s | wall s | wall/budget | predicted s | val acc | steps | stop | regime |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows):
        reg = f"lr {r['lr']} fz {r['frozen_stages']} {r['schedule']} {r['optimizer']} bs {r['batch_size']}"
        if r["exit"] == 0:
            lines.append(f"| {i} | `{r['data']}` | `{r['model']}` | {r['budget_s']} | {r['wall_s']:.2f} | {r['ratio']:.3f} | "
                         f"{r['predicted_s']:.1f} | {r['val_accuracy']:.3f} | {r['steps']} | {r['stop_reason']} | {reg} |")
        else:
            lines.append(f"| {i} | `{r['data']}` | `{r['model']}` | {r['budget_s']} | {r['wall_s']:.2f} | {r['ratio']:.3f} | - | - | - | "
                         f"error: {r['error']} | {reg} |")
    (out / "budgets.md").write_text("\n".join(lines) + "\n")
    return result
