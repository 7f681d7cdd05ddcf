#!/usr/bin/env bash
# The GPU checks, as one short script for a lent GPU machine (its image has python3 with torch, triton,
# typer, rich, timm and safetensors; nothing can be fetched there). Run from the repository root:
#
#     OUT=/some/folder bash bench/gpu_check.sh        # about 5 minutes on one H100
#
# 1. the Triton kernels against the torch reference, compiled for the GPU (not interpreted);
# 2. `nasoa bench kernels`: fused BatchNorm + residual + ReLU against eager and torch.compile;
# 3. `nasoa train --precision fp32 | bf16 | fp16` on the GPU: step time and validation accuracy of
#    two ET-NAS members on a generated task, same seed and epochs.
# Each step runs on its own and says FAILED if it fails. What lands in $OUT: versions.json,
# gpu_check.log, kernels/kernels.json and kernels.md, train.jsonl (five files: a device call brings back
# at most eight).
#
# The device tool copies the tracked tree, at most 64 MiB: 44.5 MiB on 2026-12-06, once the collection's
# store was committed compressed (bench/results/collect-20261201/store.sh).
set -uo pipefail
out=${OUT:-bench/results/gpu-$(date +%Y%m%d)}
mkdir -p "$out"
py=${PYTHON:-python3}
log() { echo "== $*" | tee -a "$out/gpu_check.log"; }
step() { local name=$1; shift; log "$name"; if ! "$@" >> "$out/gpu_check.log" 2>&1; then log "FAILED: $name"; fi; }

# The user data dir without platformdirs, which the image lacks.
export NASOA_DATA_DIR="$out/data"
"$py" -c '
import json, platform, subprocess, torch, triton
try:
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
except OSError as e:
    smi = f"nvidia-smi: {e}"
print(json.dumps({"python": platform.python_version(), "torch": torch.__version__, "triton": triton.__version__,
                  "cuda": torch.version.cuda, "nvidia_smi": smi,
                  "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}))
' > "$out/versions.json"
# nasoa itself, without the dependencies the image lacks (lightgbm, river, polars, platformdirs: not needed below).
step "install nasoa (no dependencies)" "$py" -m pip install --no-deps --no-build-isolation -q -e .
export TRITON_INTERPRET=0 NASOA_KERNELS=auto
step "kernel tests on the GPU" "$py" -m pytest -q -p no:cacheprovider tests/test_kernels.py
step "nasoa bench kernels" "$py" -m nasoa.cli.main bench kernels --device cuda --out "$out/kernels"
task="builtin:fractals?classes=0,1,2,3,4,5,6,7&per_class=200&size=64&seed=3"
: > "$out/train.jsonl"   # one line per run: its --json summary
for member in etnas_z1 etnas_z5; do
  for prec in fp32 bf16 fp16; do
    log "train $member $prec"
    if ! "$py" -m nasoa.cli.main train "$task" -m "$member" --size 64 --budget 300s --epochs 20 --lr 0.03 \
        --device cuda --precision "$prec" --out "$out/runs/$member-$prec" --json >> "$out/train.jsonl" \
        2>> "$out/gpu_check.log"; then
      log "FAILED: train $member $prec"
    fi
  done
done
rm -rf "${out:?}/runs" "${out:?}/data"
log "done"
