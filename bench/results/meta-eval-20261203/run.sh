#!/usr/bin/env bash
# Everything in results.txt: the store holding the ship, then the LOFO settings (two cores), the
# risk penalties, luck's floor. About 3 minutes on the 2-core VM.
set -eu
cd "$(dirname "$0")"
py=${PYTHON:-../../../.venv/bin/python}
nasoa=$(dirname "$py")/nasoa
store=${1:-/tmp/nasoa-ship-20261203.sqlite}
[ -e "$store" ] || "$nasoa" meta import ../../../meta/data/experience.parquet --store "$store" > /dev/null
"$py" -c "import sys; sys.path.insert(0, '.'); import common; common.load('$store')"
lofo() { taskset -c "$1" "$py" lofo.py "$store" "${@:2}"; }
{
    lofo 0 base lgbm-regressor '{}'
    lofo 0 weight3 lgbm-regressor '{"relative_weight": 3}'
    lofo 0 weight4 lgbm-regressor '{"relative_weight": 4}'
    lofo 0 leaves7 lgbm-regressor '{"num_leaves": 7}'
    lofo 0 no_cell_prior lgbm-regressor '{"regime_prior": false}'
} > lofo-a.txt &
{
    for c in '{"keys": ["m"]}' '{"keys": ["m", "mf", "ml"]}' '{"keys": ["m"], "leave_family": false}' \
             '{"keys": ["m"], "knnvec": false, "k": 40}' '{"keys": ["mf"], "k": 60, "pseudo": 10}' \
             '{"keys": ["ml"], "k": 60, "pseudo": 10}'; do
        taskset -c 1 "$py" near.py "$store" near "$c"
    done
} > near.txt &
wait
taskset -c 0 "$py" risk.py "$store" base > risk.txt
"$py" floor.py "$store" > floor.txt
cat lofo-a.txt near.txt risk.txt floor.txt > results.txt
