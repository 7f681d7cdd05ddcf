#!/usr/bin/env bash
# The collection's store is committed compressed: collect.sqlite.xz (0.9 MB) instead of collect.sqlite
# (23 MB, ignored), which kept the tracked tree over the 64 MiB a lent GPU machine takes and grew the
# history by the whole file at each commit.
#   bash bench/results/collect-20261201/store.sh unpack   # collect.sqlite from collect.sqlite.xz (keeps a newer one)
#   bash bench/results/collect-20261201/store.sh pack     # integrity check, WAL checkpoint, then collect.sqlite.xz
# run.sh and run-sides.sh unpack first; pack after stopping the collectors (SIGTERM), before committing.
set -euo pipefail
cd "$(dirname "$0")"
db=collect.sqlite
exec 9> "$db.lock"; flock 9   # two collectors started together unpack once
case "${1:-}" in
  unpack)
    if [ -e "$db" ] && [ "$db" -nt "$db.xz" ]; then
      echo "$db is newer than $db.xz: kept (pack it to commit it)"; exit 0
    fi
    xz -dc "$db.xz" > "$db.tmp" && mv -f "$db.tmp" "$db" && rm -f "$db-wal" "$db-shm"
    echo "unpacked $db ($(stat -c %s "$db") bytes)";;
  pack)
    python3 - "$db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
ok = con.execute("pragma integrity_check").fetchone()[0]
if ok != "ok":
    sys.exit(f"{sys.argv[1]}: integrity check says {ok!r}; not packed")
busy = con.execute("pragma wal_checkpoint(TRUNCATE)").fetchone()[0]
if busy:
    sys.exit(f"{sys.argv[1]}: a writer holds it (checkpoint busy); stop the collectors first")
print(f"{sys.argv[1]}: integrity ok, WAL checkpointed, {con.execute('select count(*) from runs').fetchone()[0]} runs")
PY
    xz -6 -T1 -c "$db" > "$db.xz.tmp" && mv -f "$db.xz.tmp" "$db.xz" && touch -r "$db.xz" "$db"
    echo "packed $db.xz ($(stat -c %s "$db.xz") bytes)";;
  *) echo "usage: store.sh unpack|pack" >&2; exit 2;;
esac
