"""``nasoa bench speed``: training throughput on this machine.

Images/s of forward + backward + optimizer step for ET-NAS networks and timm's resnet18 at 32 px
(batch 64), in NCHW and channels_last, and the step-time saving of ``frozen_stages`` (0 vs k):
the numbers that decide how much fine-tuning fits in a CPU budget.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import torch

from nasoa.core.net import ETNasNet
from nasoa.core.profile import measure_train_step
from nasoa.zoo.baselines import create_baseline

from .provenance import fields, provenance

ETNAS = ("031-_16_1-1-221-11121", "6-_8_1-1-21211")


def run(out: Path, batch: int = 64, size: int = 32, repeats: int = 15, log: Callable[[str], None] = print) -> dict[str, Any]:
    models: list[tuple[str, Callable[[], Any]]] = [(e, lambda e=e: ETNasNet(e, num_classes=10, input_size=size)) for e in ETNAS]
    models.append(("resnet18 (timm, stem stride 1)", lambda: create_baseline("resnet18", 10, size)))
    rows = []
    for name, make in models:
        for cl in (False, True):
            torch.manual_seed(0)
            st = measure_train_step(make(), batch, size, 10, warmup=3, repeats=repeats, channels_last=cl)
            rows.append({"model": name, "layout": "channels_last" if cl else "nchw", "frozen_stages": 0,
                         "step_ms": st.median_ms, "iqr_ms": st.iqr_ms, "images_per_s": batch * 1000 / st.median_ms})
            log(f"{name:34s} {rows[-1]['layout']:13s} {st.median_ms:7.1f} ms  {rows[-1]['images_per_s']:7.0f} img/s")
    frozen = []
    for name, make in models[:2]:
        base = None
        for k in (0, 1, 2, 3):
            torch.manual_seed(0)
            st = measure_train_step(make(), batch, size, 10, frozen_stages=k, warmup=3, repeats=repeats)
            base = base or st.median_ms
            frozen.append({"model": name, "frozen_stages": k, "step_ms": st.median_ms, "iqr_ms": st.iqr_ms,
                           "ratio_to_frozen0": st.median_ms / base})
            log(f"{name:34s} frozen {k}: {st.median_ms:7.1f} ms ({st.median_ms / base:.2f} of frozen 0)")
    result = {"suite": "train-speed", "provenance": provenance(), "batch": batch, "input_size": size, "rows": rows,
              "frozen": frozen}
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(result, indent=2) + "\n")
    p = fields(result["provenance"])
    lines = [f"# Training throughput, batch {batch}, {size} px", "",
             f"Measured {p['date']} on {p['cpu']} ({p['cpu_cores']} cores, {p['torch_threads']} torch threads), "
             f"torch {p['torch']}. Forward + backward + SGD step on random data, median of {repeats} after warm-up.", "",
             "| model | layout | step ms | IQR ms | images/s |", "|---|---|---|---|---|"]
    lines += [f"| `{r['model']}` | {r['layout']} | {r['step_ms']:.1f} | {r['iqr_ms']:.1f} | {r['images_per_s']:.0f} |" for r in rows]
    lines += ["", "## frozen_stages (channels_last)", "", "| model | frozen stages | step ms | vs frozen 0 |", "|---|---|---|---|"]
    lines += [f"| `{r['model']}` | {r['frozen_stages']} | {r['step_ms']:.1f} | {r['ratio_to_frozen0']:.2f} |" for r in frozen]
    (out / "speed.md").write_text("\n".join(lines) + "\n")
    return result
