#!/usr/bin/env bash
# Experience collection at larger input sides (2026-12-06, session 35): the ImageNet members, profiled at 64 px
# but pretrained at 224, also run at 96 and 128 px (--input-sizes 64,96,128; the ET-NAS members stay at 32), on
# tasks of 96 and 128 px: crops of real photographs (photos) and the RGB procedural families (textures,
# fractals, shapes). On photos tasks rendered at 128 px, common practice (MobileNetV2 trained at the task's
# 128 px) beat nasoa's 64 px picks at 90 s (../photos-side-20261206/), and the experience held no run above
# 64 px. Budgets 15-120 s (a 128 px ImageNet run needs more than 8 s to see its data twice), 5-300 images a
# class. One process per core (torch on 1 thread each), one shared store; resumable: re-running this
# script continues where it stopped. Keep other work off the cores it runs on (each run records its CPU share).
#   bash bench/results/collect-20261201/run-large.sh SEED CORE [OPTIONS...]   (seeds 26 and 27 from 2026-12-06)
# Seeds 28 and 29 (from 2026-12-06, session 37) fine-tune the ImageNet members alone, at 64, 96 and 128 px
# (half of seeds 26-27's runs were ET-NAS members at 32 px, and one in seven an ImageNet member at 128 px):
#   run-large.sh 28 0 --member mobilenetv2_imagenet --member efficientnet_lite0_imagenet   (and 29 1)
# OPTIONS go to `nasoa meta collect` as they are. NASOA=path/to/nasoa runs another install against this store.
set -u
cd "$(dirname "$0")/../../.."
seed=$1; core=$2; nasoa=${NASOA:-.venv/bin/nasoa}
out=bench/results/collect-20261201
bash "$out/store.sh" unpack   # the store is committed as collect.sqlite.xz
for attempt in $(seq 1 20); do
    taskset -c "$core" "$nasoa" meta collect --store "$out/collect.sqlite" --runs 1500 --seed "$seed" \
        --budgets 15,30,60,120 --budget-weights 1,2,2,1.5 --runs-per-task 10 \
        --source photos --source textures --source fractals --source shapes \
        --sizes 96,128 --per-class 5,10,20,50,100,200,300 --max-classes 50 --min-val-per-class 20 \
        --input-sizes 64,96,128 --lrs 0.001,0.003,0.01,0.03,0.1 "${@:3}" \
        >> "$out/collect-seed$seed.log" 2>&1 && break
    echo "attempt $attempt exited with $?; resuming" >> "$out/collect-seed$seed.log"
    sleep 2
done
