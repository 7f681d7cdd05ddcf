#!/usr/bin/env bash
# Experience collection for the transfer issue on builtin:photos only (crops of 20 real photographs: the
# natural images no other family holds), members also below their profiled input side
# (--input-sizes 32,48,64: ImageNet members run at 32, 48 or 64 px; ET-NAS members stay at 32), as
# run-sides.sh otherwise: every zoo member, budgets 8-120 s, sizes 16-96 px, 5-300 images a class.
# One process per core (torch on 1 thread each), one shared store; resumable: re-running this script
# continues where it stopped. Keep other work off the cores it runs on: each run records the CPU share
# it got (extra.cpu_share).
#   bash bench/results/collect-20261201/run-photos.sh SEED CORE [OPTIONS...]   (with --lrs 0.001,0.003,0.01,0.03,0.1)
# Seeds 22 and 23 (2026-12-06) ran the family's first version, whose validation crops shared stripes
# with the training crops; their 311 runs were moved out of the store, to
# ../photos-family-20261206/photos-v1-runs.parquet. Collect the current version with seeds 24 and 25.
# OPTIONS go to `nasoa meta collect` as they are.
# NASOA=path/to/nasoa runs another install (a clean clone's) against this store.
# It is run-sides.sh with SOURCES=photos.
SOURCES=photos exec bash "$(dirname "$0")/run-sides.sh" "$@"
