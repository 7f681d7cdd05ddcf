#!/usr/bin/env bash
# Leave-one-family-out regret of the shipped regressor with and without the photos runs (read.py).
#   bash bench/results/photos-family-20261206/lofo.sh [SEEDS]     # default 0,1; ~5 min a seed and store per core
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
seeds=${1:-0,1}
tmp=${TMPDIR:-/tmp}/photos-family
mkdir -p "$tmp"
[ -f "$tmp/ship.sqlite" ] || .venv/bin/nasoa meta import meta/data/experience.parquet --store "$tmp/ship.sqlite"
[ -f "$tmp/photos.sqlite" ] || .venv/bin/python "$here/build.py" "$tmp/photos.sqlite" | tee "$here/build.json"
v=bench/results/meta-eval-20261205/variants.py
taskset -c 0 env SAVE="$tmp/ship" .venv/bin/python "$v" "$tmp/ship.sqlite" '{}' "$seeds" > "$here/lofo-ship.txt" 2>&1 &
taskset -c 1 env SAVE="$tmp/photos" .venv/bin/python "$v" "$tmp/photos.sqlite" '{}' "$seeds" > "$here/lofo-photos.txt" 2>&1 &
wait
.venv/bin/python "$here/read.py" "$tmp/ship" "$tmp/photos" "$seeds" | tee "$here/read.txt"
