"""Does bf16 train as well as fp32? Same member, regime, steps and seed; validation accuracy of each.

    python bench/results/precision-20261206/parity.py SHARD/NSHARDS >> parity.jsonl   # one core a shard

`nasoa train --epochs 6 --json` on two tasks, three seeds, one thread, for the members that train faster
in bf16 here (etnas_z5, etnas_z6) and the ImageNet members (full fine-tune, SGD lr 0.01 and AdamW lr 1e-3).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NASOA = str(HERE.parents[2] / ".venv" / "bin" / "nasoa")
TASKS = ["builtin:fractals?classes=0,1,2,3,4,5,6,7&per_class=60&seed=3",
         "builtin:shapes?classes=0,3,6,9,12,15&per_class=60&seed=3"]
CELLS = [(m, opt, lr) for m in ("etnas_z5", "etnas_z6") for opt, lr in (("sgd", 0.03),)] + [
    (m, opt, lr) for m in ("mobilenetv2_imagenet", "efficientnet_lite0_imagenet")
    for opt, lr in (("sgd", 0.01), ("adamw", 0.001))]


def main() -> None:
    shard, n = (int(v) for v in sys.argv[1].split("/"))
    jobs = [(t, c, s) for t in TASKS for c in CELLS for s in (0, 1, 2)]
    env = dict(os.environ, NASOA_THREADS="1", OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (task, (member, opt, lr), seed) in enumerate(jobs):
            if i % n != shard:
                continue
            row = {"task": task.split("?")[0], "member": member, "optimizer": opt, "lr": lr, "seed": seed}
            for prec in ("fp32", "bf16"):
                out = Path(tmp) / f"{i}-{prec}"
                p = subprocess.run([NASOA, "train", task, "-m", member, "--budget", "300s", "--epochs", "6",
                                    "--optimizer", opt, "--lr", str(lr), "--seed", str(seed), "--precision", prec,
                                    "--out", str(out), "--json"], capture_output=True, text=True, env=env, check=True)
                r = json.loads(p.stdout)
                row[prec] = {"val_accuracy": r["val_accuracy"], "step_ms": round(r["step_ms"], 1),
                             "steps": r["steps"], "diverged": r["diverged"]}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
