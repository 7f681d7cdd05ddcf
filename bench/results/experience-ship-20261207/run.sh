#!/usr/bin/env bash
# The acceptance's bench (../adapt-heldout-20261205/: --hold-out-family, 30 s and 90 s, one thread a row, the 8
# tasks of ../adapt-heldout-20261202i/tasks-fresh2.txt) on the shipped experience (7,632 runs), nasoa only, at
# SEED, into seedSEED/: ../experience-all-20261207/run.sh (two shards, one pinned per core, on an otherwise idle
# machine; resumable). Practice and default read neither the store nor the model: their rows at the same seeds
# on an Intel Xeon VM are ../adapt-heldout-20261205/seedN/ (seed 2: ../adapt-heldout-20261207/baselines-seed2/).
#   bash bench/results/experience-ship-20261207/run.sh SEED      # 25-40 min on the 2-core VM
here=$(cd "$(dirname "$0")" && pwd)
OUT=$here/seed$1 exec bash "$here/../experience-all-20261207/run.sh" "$1"
