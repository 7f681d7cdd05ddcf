#!/usr/bin/env bash
# Leave-one-family-out regret of the shipped regressor with and without the photos runs (read.py).
#   bash bench/results/photos-family-20261206/lofo.sh [SEEDS]     # default 0,1; ~6 min a seed and store per core
# RUNS (a run export or a store, see build.py) names the photos runs; TAG names this reading's files
# (build-TAG.json, lofo-photos-TAG.txt, read-TAG.txt; none for the first version's runs). The ship's
# predictions (TMPDIR/photos-family/ship-SEED.parquet) are made once and reused; the jobs run two at a time,
# one per core.
#   RUNS=bench/results/collect-20261201/collect.sqlite TAG=v2 bash bench/results/photos-family-20261206/lofo.sh 0,1
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
seeds=${1:-0,1}
tag=${TAG:+-$TAG}
tmp=${TMPDIR:-/tmp}/photos-family
mkdir -p "$tmp"
[ -f "$tmp/ship.sqlite" ] || .venv/bin/nasoa meta import meta/data/experience.parquet --store "$tmp/ship.sqlite"
[ -f "$tmp/photos$tag.sqlite" ] || .venv/bin/python "$here/build.py" "$tmp/photos$tag.sqlite" ${RUNS:+"$RUNS"} \
    | tee "$here/build$tag.json"
v=bench/results/meta-eval-20261205/variants.py
jobs=()
for s in ${seeds//,/ }; do
    [ -f "$tmp/ship-$s.parquet" ] || jobs+=("ship $s")
    jobs+=("photos$tag $s")
done
core=0
for j in "${jobs[@]}"; do
    set -- $j
    taskset -c $core env SAVE="$tmp/$1" .venv/bin/python "$v" "$tmp/$1.sqlite" '{}' "$2" > "$tmp/lofo-$1-$2.txt" 2>&1 &
    core=$((1 - core))
    if [ $core -eq 0 ]; then wait; fi
done
wait
rm -f "$tmp/lofo-ship.log" "$tmp/lofo-photos$tag.log"
for j in "${jobs[@]}"; do
    set -- $j
    cat "$tmp/lofo-$1-$2.txt" >> "$tmp/lofo-$1.log"
    if [ "$1" = ship ]; then cp "$tmp/lofo-ship.log" "$here/lofo-ship.txt"; else cp "$tmp/lofo-$1.log" "$here/lofo-$1.txt"; fi
done
.venv/bin/python "$here/read.py" "$tmp/ship" "$tmp/photos$tag" "$seeds" | tee "$here/read$tag.txt"
