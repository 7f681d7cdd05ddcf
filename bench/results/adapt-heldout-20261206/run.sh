#!/usr/bin/env bash
# The acceptance's bench as ../adapt-heldout-20261205b/run.sh (one process per core, one thread each;
# --hold-out-family, 30 s and 90 s, the 8 tasks of ../adapt-heldout-20261202i/tasks-fresh2.txt), nasoa
# only, from the same snapshots of ../adapt-heldout-20261205/seedSEED, but WITHOUT `nasoa zoo
# calibrate`: an empty user zoo, as a new machine has. Resumable.
#   bash bench/results/adapt-heldout-20261206/run.sh SEED [CORE]     # ~20 min on one core
set -u
cd "$(dirname "$0")/../../.."
seed=$1
core=${2:-0}
here=$(pwd)/bench/results/adapt-heldout-20261206
out=$here/seed$seed
mkdir -p "$out" "$here/empty-zoo"
# the snapshots (stores and fitted models) of ../adapt-heldout-20261205/seedSEED, where it still has them
snapshots=bench/results/adapt-heldout-20261205/seed$seed
cp -rn "$snapshots"/seed*.sqlite "$snapshots"/seed*.model "$out"/ 2>/dev/null
NASOA_ZOO_DIR=$here/empty-zoo taskset -c "$core" .venv/bin/nasoa bench adapt \
    --tasks-from bench/results/adapt-heldout-20261202i/tasks-fresh2.txt --hold-out-family --seed "$seed" \
    --budgets 30s,90s --strategies nasoa --ratio-budgets "" --out "$out" >> "$out/run.log" 2>&1
.venv/bin/nasoa bench adapt --out "$out" --report-only > "$out/report.txt"
