#!/usr/bin/env bash
# Experience collection for the transfer issue: 12 task families unlike the shipped MNIST-like
# experience, every zoo member, budgets 8-120 s. One process per core (torch on 1 thread each),
# one shared store; resumable: re-running this script continues where it stopped. Keep other
# work off the cores it runs on: each run records the CPU share it got (extra.cpu_share).
#   bash bench/results/collect-20261201/run.sh SEED CORE
set -u
cd "$(dirname "$0")/../../.."
seed=$1; core=$2
out=bench/results/collect-20261201
bash "$out/store.sh" unpack   # the store is committed as collect.sqlite.xz
for attempt in $(seq 1 20); do
    taskset -c "$core" .venv/bin/nasoa meta collect --store "$out/collect.sqlite" --runs 1500 --seed "$seed" \
        --budgets 8,15,30,60,120 --budget-weights 3,3,2,1.3,0.7 --runs-per-task 10 \
        --source textures --source noise --source shapes --source fractals \
        --source animal-colour --source fashion-colour --source mnist-colour --source digits-colour \
        --source animal-corrupt --source fashion-corrupt --source mnist-corrupt --source digits-corrupt \
        --sizes 16,24,32,48,64,96 --per-class 5,10,20,50,100,200,300 --max-classes 50 --min-val-per-class 20 \
        >> "$out/collect-seed$seed.log" 2>&1 && break
    echo "attempt $attempt exited with $?; resuming" >> "$out/collect-seed$seed.log"
    sleep 2
done
