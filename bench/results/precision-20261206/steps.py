"""Training step time in fp32 and bf16 for every profiled zoo member, as `nasoa train` measures it.

    python bench/results/precision-20261206/steps.py [THREADS...] > steps.jsonl     # default: 2 1

Each row is one `nasoa train --epochs 3 --precision P --json` run (real batches and steps, the member's
own input size, frozen stages 0 and 2) on one task; `step_ms` is the trainer's median step time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NASOA = str(HERE.parents[2] / ".venv" / "bin" / "nasoa")
TASK = "builtin:fractals?classes=0,1,2,3,4,5,6,7&per_class=60&seed=3"
MEMBERS = ["etnas_z1", "etnas_z2", "etnas_z3", "etnas_z4", "etnas_z5", "etnas_z6",
           "mobilenetv2_imagenet", "efficientnet_lite0_imagenet"]


def run(member: str, frozen: int, precision: str, threads: int, out: Path) -> dict:
    env = dict(os.environ, NASOA_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    cmd = [NASOA, "train", TASK, "-m", member, "--budget", "120s", "--epochs", "3", "--frozen-stages", str(frozen),
           "--precision", precision, "--out", str(out), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    r = json.loads(p.stdout)
    return {"member": member, "frozen": frozen, "precision": precision, "threads": threads,
            "input_size": r["input_size"], "step_ms": round(r["step_ms"], 2), "steps": r["steps"],
            "val_accuracy": r["val_accuracy"]}


def main() -> None:
    import tempfile

    threads = [int(a) for a in sys.argv[1:]] or [2, 1]
    with tempfile.TemporaryDirectory() as tmp:
        for t in threads:
            for m in MEMBERS:
                for f in (0, 2):
                    for prec in ("fp32", "bf16"):
                        row = run(m, f, prec, t, Path(tmp) / f"{m}-{f}-{prec}-{t}")
                        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
