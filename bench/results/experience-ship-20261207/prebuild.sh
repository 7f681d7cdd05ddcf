#!/usr/bin/env bash
# Fits seedSEED/'s family-held-out snapshots ahead of run.sh, the families in the reverse of the order the bench's
# shards take them, so that the core a waiting shard leaves idle builds from the other end (the snapshot lock
# keeps any one from being built twice; a snapshot is the same whoever builds it). Only fits, no timed row: it
# may share the machine with other fits, never with the rows. Resumable; a killed build is redone.
#   bash bench/results/experience-ship-20261207/prebuild.sh SEED
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
"${PYTHON:-$(pwd)/.venv/bin/python}" - "$here/seed$1" "$1" <<'PY'
import sys
from pathlib import Path

from nasoa.bench.adapt import read_tasks_file
from nasoa.bench.adapt_store import seed_store
from nasoa.core.families import lineage_of

out, seed = Path(sys.argv[1]), int(sys.argv[2])
specs = read_tasks_file("bench/results/adapt-heldout-20261202i/tasks-fresh2.txt")  # as run.sh's --tasks-from reads it
for family in reversed(list(dict.fromkeys(lineage_of(s) for s in specs))):
    print(seed_store(out, None, seed, exclude=family), flush=True)
PY
