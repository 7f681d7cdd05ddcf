#!/usr/bin/env bash
# Everything this folder holds, in order, on both cores (~50 min): seeds 2 and 3 side by side, then 4
# and 5, then the pick's stability; then the table.   bash bench/results/adapt-heldout-20261204g/all.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/run.sh" 2 0 & bash "$here/run.sh" 3 1; wait
bash "$here/run.sh" 4 0 & bash "$here/run.sh" 5 1; wait
bash "$here/stability.sh" 0
cd "$here" && python3 summary.py 2 3 4 5 > summary.txt
