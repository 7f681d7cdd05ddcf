#!/usr/bin/env bash
# Experience collection for the transfer issue, members also below their profiled input side
# (--input-sizes 32,48,64: ImageNet members run at 32, 48 or 64 px; ET-NAS members stay at 32), as
# run.sh otherwise: 12 task families unlike the shipped MNIST-like experience, every zoo member, budgets 8-120 s. One process per core (torch on 1 thread each),
# one shared store; resumable: re-running this script continues where it stopped. Keep other
# work off the cores it runs on: each run records the CPU share it got (extra.cpu_share).
#   bash bench/results/collect-20261201/run-sides.sh SEED CORE [OPTIONS...]   (seeds 12 and 13 from 2026-12-02)
# OPTIONS go to `nasoa meta collect` as they are; from 2026-12-03 seeds 14 and 15 run with
# --lrs 0.001,0.003,0.01,0.03,0.1 (common practice's AdamW rate, 1e-3, below the default grid).
# NASOA=path/to/nasoa runs another install (a clean clone's) against this store. SOURCES (names
# separated by spaces) replaces the 12 families: run-photos.sh sets it to photos.
set -u
cd "$(dirname "$0")/../../.."
seed=$1; core=$2; nasoa=${NASOA:-.venv/bin/nasoa}
sources=()
for s in ${SOURCES:-textures noise shapes fractals animal-colour fashion-colour mnist-colour digits-colour \
        animal-corrupt fashion-corrupt mnist-corrupt digits-corrupt}; do
    sources+=(--source "$s")
done
out=bench/results/collect-20261201
bash "$out/store.sh" unpack   # the store is committed as collect.sqlite.xz
for attempt in $(seq 1 20); do
    taskset -c "$core" "$nasoa" meta collect --store "$out/collect.sqlite" --runs 1500 --seed "$seed" \
        --budgets 8,15,30,60,120 --budget-weights 3,3,2,1.3,0.7 --runs-per-task 10 \
        "${sources[@]}" \
        --sizes 16,24,32,48,64,96 --per-class 5,10,20,50,100,200,300 --max-classes 50 --min-val-per-class 20 \
        --input-sizes 32,48,64 "${@:3}" \
        >> "$out/collect-seed$seed.log" 2>&1 && break
    echo "attempt $attempt exited with $?; resuming" >> "$out/collect-seed$seed.log"
    sleep 2
done
