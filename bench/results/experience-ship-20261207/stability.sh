#!/usr/bin/env bash
# The 5-seed stability check of the one-shot pick (`nasoa bench stability`: dry runs, each task's family held
# out) on tasks-fresh2.txt at 30 s and 90 s, from the family-held-out snapshots that seed2/ fitted on the ship
# (booster seed 2: does the pick hold when adapt's --seed changes, the fitted model being fixed), into
# stability/: ../experience-all-20261207/stability.sh. One process pinned to CORE (default 0); resumable, after
# run.sh 2. NASOA=path/to/nasoa runs another install.
#   bash bench/results/experience-ship-20261207/stability.sh [CORE]      # ~8 min
here=$(cd "$(dirname "$0")" && pwd)
OUT=$here/stability SNAPSHOTS=$here/seed2 exec bash "$here/../experience-all-20261207/stability.sh" "$@"
