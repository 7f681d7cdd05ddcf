"""``nasoa bench transfer``: is pretraining on the source worth it? Each zoo ET-NAS member is
fine-tuned on a task from outside its source (Animal-MNIST by default) from its pretrained
weights and, with the same regime and budget, from random initialisation."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Callable

from nasoa.app.workflow import prepare_model_and_task
from nasoa.core.data import load_task
from nasoa.core.train import Regime, finetune
from nasoa.zoo import records

from .provenance import fields, provenance

TASK = "builtin:animal?per_class=300"


def run(out: Path, budget_s: float = 30.0, seeds: tuple[int, ...] = (0, 1, 2), task_spec: str = TASK,
        members: list[str] | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    names = members or [r["name"] for r in records() if r.get("family") == "etnas"]
    regime = Regime(lr=0.03, schedule="cosine", batch_size=64)
    rows = []
    for seed in seeds:
        base = load_task(task_spec, seed=seed)
        for name in names:
            for pretrained in (True, False):
                prep = prepare_model_and_task(task_spec, name, seed=seed, pretrained=pretrained, task=base,
                                              size=next(r["input_size"] for r in records() if r["name"] == name))
                res = finetune(prep.model, prep.task, regime, budget_s, seed=seed, progress=False, hflip=prep.hflip,
                               mean=prep.mean, std=prep.std)
                rows.append({"member": name, "seed": seed, "init": "pretrained" if pretrained else "scratch",
                             "val_accuracy": res.val_accuracy, "steps": res.steps, "epochs": res.epochs})
                log(f"{name} seed {seed} {rows[-1]['init']:10s} val acc {res.val_accuracy:.4f} ({res.epochs:.1f} epochs)")
    summary = []
    for name in names:
        pre = [r["val_accuracy"] for r in rows if r["member"] == name and r["init"] == "pretrained"]
        scr = [r["val_accuracy"] for r in rows if r["member"] == name and r["init"] == "scratch"]
        summary.append({"member": name, "pretrained_mean": statistics.mean(pre), "scratch_mean": statistics.mean(scr),
                        "gain": statistics.mean(pre) - statistics.mean(scr),
                        "pretrained_wins": sum(a > b for a, b in zip(pre, scr)), "seeds": len(pre)})
    result = {"suite": "transfer", "provenance": provenance(), "task": task_spec, "budget_s": budget_s,
              "regime": regime.to_dict(), "rows": rows, "summary": summary}
    out.mkdir(parents=True, exist_ok=True)
    (out / "transfer.json").write_text(json.dumps(result, indent=2) + "\n")
    p = fields(result["provenance"])
    lines = [f"# Transfer: pretrained zoo member vs the same architecture from scratch on `{task_spec}`", "",
             f"Measured {p['date']} on {p['cpu']} ({p['cpu_cores']} cores), torch {p['torch']}. Budget {budget_s:g} s "
             f"per run (wall clock, including evaluation), same regime ({json.dumps(regime.to_dict())}), seeds {list(seeds)}.",
             "", "| member | pretrained (mean val acc) | scratch | gain | pretrained wins |", "|---|---|---|---|---|"]
    lines += [f"| {s['member']} | {s['pretrained_mean']:.4f} | {s['scratch_mean']:.4f} | {s['gain']:+.4f} | "
              f"{s['pretrained_wins']}/{s['seeds']} |" for s in summary]
    (out / "transfer.md").write_text("\n".join(lines) + "\n")
    return result
