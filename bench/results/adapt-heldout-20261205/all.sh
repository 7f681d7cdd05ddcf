#!/usr/bin/env bash
# Everything this folder holds, in order, on both cores (~60 min on the Intel VM): seeds 2 and 3 side by
# side (nasoa, practice, default), then the pick's stability; then the table.
#   bash bench/results/adapt-heldout-20261205/all.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/run.sh" 2 0 & bash "$here/run.sh" 3 1; wait
bash "$here/stability.sh" 0
cd "$here" && python3 summary.py 2 3 > summary.txt
