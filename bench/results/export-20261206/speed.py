"""Serving speed of `nasoa export`'s files against the run's torch model, on this machine's CPU.

    python speed.py RUN_DIR...    # each run dir exported with `nasoa export` (onnx) and `-f pt2`

For each run: the exported ONNX file in onnxruntime, the .pt2 program in torch, and the run's model in
torch behind the same input step (eager, channels_last, inference mode, as `nasoa predict` runs it),
each on 2 threads, on seeded uint8 images at the model's input size: the best of 7 timed calls (after
one warm-up) at batch 256 and of 31 at batch 1. One JSON line per run on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from nasoa.app.export_model import Deployable, description_path
from nasoa.app.predict import load_run
from nasoa.core.provenance import provenance

THREADS = 2


def best(fn, n: int) -> float:
    fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(run: Path) -> dict:
    model, classes, spec = load_run(run)
    onnx_path, pt2_path = run / "export" / "model.onnx", run / "export" / "model.pt2"
    desc = json.loads(description_path(onnx_path).read_text())
    size, ch = desc["input"]["size"], desc["input"]["channels"]
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (256, size, size, ch), dtype=np.uint8))
    eager = Deployable(model, desc["in_the_model"]["mean"], desc["in_the_model"]["std"]).eval()
    eager.to(memory_format=torch.channels_last)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    program = torch.export.load(str(pt2_path)).module()
    xn, x1, xn1 = x.numpy(), x[:1], x[:1].numpy()
    out = {"run": run.name, "model": spec["name"], "input": f"{size}x{size}x{ch}", "classes": len(classes),
           "onnx_mb": round(onnx_path.stat().st_size / 1e6, 2), "pt2_mb": round(pt2_path.stat().st_size / 1e6, 2)}
    with torch.inference_mode():
        for batch, n, xt, xa in ((256, 7, x, xn), (1, 31, x1, xn1)):
            out[f"torch_ms_b{batch}"] = round(best(lambda: eager(xt), n) * 1e3, 2)
            out[f"pt2_ms_b{batch}"] = round(best(lambda: program(xt), n) * 1e3, 2)
            out[f"onnxruntime_ms_b{batch}"] = round(best(lambda: session.run(None, {"images": xa}), n) * 1e3, 2)
    return out


if __name__ == "__main__":
    torch.set_num_threads(THREADS)
    prov = provenance()
    for arg in sys.argv[1:]:
        print(json.dumps({**measure(Path(arg)), "versions": {**prov["versions"], "onnxruntime": ort.__version__},
                          "machine": prov["machine"]["cpu"], "date": prov["date"]}), flush=True)
