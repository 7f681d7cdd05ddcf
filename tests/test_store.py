"""The experience store: concurrent appends, crash safety, migration, parquet, location, errors."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from nasoa.core.errors import NasoaError
from nasoa.meta.store import SCHEMA_VERSION, ExperienceStore, RunRecord, StoreError, default_store_path


def _record(i: int, task: str = "t0", **kw) -> RunRecord:
    return RunRecord(task_id=task, task_spec=f"builtin:digits?seed={i}", model_name=f"m{i % 3}",
                     regime={"lr": 0.01, "frozen_stages": i % 4, "schedule": "cosine"}, budget_s=30.0,
                     val_accuracy=0.5 + i / 1000, task_features={"task_num_classes": 10.0, "logme": {"m0": -0.3}},
                     model_features={"model_name": f"m{i % 3}", "model_params_log10": 6.0}, seed=i,
                     elapsed_s=29.0, **kw)


def test_append_and_read(tmp_path):
    st = ExperienceStore(tmp_path / "s.sqlite")
    ids = [st.append(_record(i, task=f"t{i % 2}")) for i in range(5)]
    assert ids == [1, 2, 3, 4, 5] and st.count() == 5
    recs = st.records()
    assert recs[2].regime["frozen_stages"] == 2 and recs[2].task_features["logme"] == {"m0": -0.3}
    frame = st.runs()
    assert frame.height == 5 and frame["val_accuracy"].to_list()[0] == pytest.approx(0.5)
    assert json.loads(frame["regime"][0])["lr"] == 0.01
    s = st.stats()
    assert (s["runs"], s["tasks"], s["models"], s["schema_version"]) == (5, 2, 3, SCHEMA_VERSION)
    assert st.runs(after_id=3).height == 2
    # nan accuracy (e.g. an interrupted run) round-trips as nan, the uid keeps re-appends out
    nan_rec = _record(9)
    nan_rec.val_accuracy = float("nan")
    st.append(nan_rec)
    assert st.append(nan_rec) == -1 and st.count() == 6
    assert st.records()[-1].val_accuracy != st.records()[-1].val_accuracy


def _append_worker(path: str, worker: int, n: int, barrier) -> None:
    st = ExperienceStore(path)
    barrier.wait()
    for i in range(n):
        st.append(_record(worker * 1000 + i, task=f"w{worker}"), counter="stress")
    st.close()


def test_four_processes_append_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "s.sqlite")
    ExperienceStore(path).close()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_append_worker, args=(path, w, 50, barrier)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    st = ExperienceStore(path)
    assert st.count() == 200
    assert st.counter("stress") == 200
    frame = st.runs()
    assert frame["uid"].n_unique() == 200
    assert sorted(frame.group_by("task_id").len()["len"].to_list()) == [50, 50, 50, 50]
    st.check()


_KILL_CHILD = textwrap.dedent("""
    import sys
    from nasoa.meta.store import ExperienceStore, RunRecord
    st = ExperienceStore(sys.argv[1])
    big = {"task_num_classes": 10.0, "blob": "x" * 20000}
    n = 0
    while True:
        recs = [RunRecord(task_id=f"t{n}", model_name="m", regime={"lr": 0.01}, budget_s=10.0, val_accuracy=0.5,
                          task_features=big) for _ in range(50)]
        st.append_many(recs, counter="kill")
        n += 50
        print(n, flush=True)
""")


def test_sigkill_mid_write_leaves_a_readable_store(tmp_path):
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    acknowledged = 0
    try:
        while acknowledged < 150:
            line = proc.stdout.readline()
            assert line, "the writer died before committing"
            acknowledged = int(line)
        time.sleep(0.013)  # land inside a later transaction
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    st = ExperienceStore(path)
    st.check()
    n = st.count()
    assert n >= acknowledged, "a committed transaction was lost"
    assert n % 50 == 0, "a transaction was half applied"
    assert st.counter("kill") == n, "the counter and the rows disagree"
    st.append(_record(1))  # and it takes new writes
    assert st.count() == n + 1


def test_interrupt_inside_a_transaction_rolls_back(tmp_path):
    st = ExperienceStore(tmp_path / "s.sqlite")
    st.append(_record(0))
    with pytest.raises(KeyboardInterrupt):
        with st.transaction() as con:
            con.execute("DELETE FROM runs")
            raise KeyboardInterrupt
    assert st.count() == 1
    st.append(_record(1))
    assert st.count() == 2


def _make_v1(path) -> None:
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, task_id TEXT NOT NULL, task_spec TEXT,
            task_features TEXT NOT NULL DEFAULT '{}', model_name TEXT NOT NULL,
            model_features TEXT NOT NULL DEFAULT '{}', regime TEXT NOT NULL DEFAULT '{}', budget_s REAL,
            val_accuracy REAL, elapsed_s REAL, diverged INTEGER NOT NULL DEFAULT 0, seed INTEGER,
            versions TEXT NOT NULL DEFAULT '{}');
    """)
    for i in range(3):
        con.execute("INSERT INTO runs (created, task_id, model_name, regime, budget_s, val_accuracy, diverged, seed) "
                    "VALUES ('2026-01-01', 't', 'm', '{\"lr\": 0.01}', 10, ?, ?, ?)", (0.5 + i / 10, i == 2, i))
    con.commit()
    con.close()


def test_migration_from_v1(tmp_path):
    path = tmp_path / "old.sqlite"
    _make_v1(path)
    st = ExperienceStore(path)
    assert st.schema_version() == SCHEMA_VERSION
    recs = st.records()
    assert [r.val_accuracy for r in recs] == pytest.approx([0.5, 0.6, 0.7])
    assert [r.stop_reason for r in recs] == ["unknown", "unknown", "diverged"]
    assert len({r.uid for r in recs}) == 3 and recs[0].strategy == "unknown"
    st.append(_record(5))
    st.put_task_features("t", {"task_num_classes": 2.0})
    assert st.count() == 4 and st.task_features("t") == {"task_num_classes": 2.0}
    st.close()
    assert ExperienceStore(path).count() == 4  # reopening does not migrate twice


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    ExperienceStore(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer than this nasoa"):
        ExperienceStore(path)


def test_corrupt_file_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "bad.sqlite"
    path.write_bytes(b"this is not a database, just some bytes " * 100)
    with pytest.raises(NasoaError) as e:
        ExperienceStore(path)
    msg = str(e.value)
    assert str(path) in msg and "move it aside" in msg and "\n" not in msg


def test_parquet_round_trip(tmp_path):
    a = ExperienceStore(tmp_path / "a.sqlite")
    a.append_many([_record(i, task=f"t{i % 3}") for i in range(7)])
    assert a.export_parquet(tmp_path / "runs.parquet") == 7
    b = ExperienceStore(tmp_path / "b.sqlite")
    assert b.import_parquet(tmp_path / "runs.parquet") == 7
    assert b.import_parquet(tmp_path / "runs.parquet") == 0  # already there (same uids)
    ra, rb = a.records(), b.records()
    assert [r.to_dict() for r in ra] == [r.to_dict() for r in rb]
    # frames in: a polars frame shaped like runs() appends too
    c = ExperienceStore(tmp_path / "c.sqlite")
    assert c.append_frame(a.runs().drop("uid").head(2)) == 2
    with pytest.raises(NasoaError, match="parquet"):
        b.import_parquet(tmp_path / "a.sqlite")


def test_location_env_var_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("NASOA_STORE", str(tmp_path / "env" / "store.sqlite"))
    assert default_store_path() == tmp_path / "env" / "store.sqlite"
    st = ExperienceStore()
    assert st.path == tmp_path / "env" / "store.sqlite" and st.path.exists()
    explicit = ExperienceStore(tmp_path / "explicit.sqlite")  # an explicit path wins
    assert explicit.path == tmp_path / "explicit.sqlite"
    monkeypatch.delenv("NASOA_STORE")
    monkeypatch.setenv("NASOA_DATA_DIR", str(tmp_path / "user-data"))
    assert default_store_path() == tmp_path / "user-data" / "experience.sqlite"
    monkeypatch.delenv("NASOA_DATA_DIR")  # the platform's user data dir
    d = default_store_path()
    assert d.name == "experience.sqlite" and "nasoa" in str(d) and not str(d).startswith(str(tmp_path))
    with pytest.raises(StoreError, match="no experience store"):
        ExperienceStore(tmp_path / "missing.sqlite", create=False)
    with pytest.raises(StoreError, match="is a folder"):
        ExperienceStore(tmp_path)


def test_store_is_wal_with_counters(tmp_path):
    st = ExperienceStore(tmp_path / "s.sqlite")
    assert st.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert st.counter("x") == 0 and st.bump_counter("x") == 1 and st.bump_counter("x", 2) == 3
    st.append(_record(0), counter="x")
    assert st.counters() == {"x": 4}


def test_drop_tasks_removes_their_runs_and_features(tmp_path):
    st = ExperienceStore(tmp_path / "s.sqlite")
    for tid in ("a", "a", "b"):
        st.append(RunRecord(task_id=tid, task_spec=f"x{tid}", task_features={"task_num_train": 1.0},
                            model_name="m", regime={}, budget_s=1.0, val_accuracy=0.5))
    st.put_task_features("a", {"task_num_train": 1.0}, "xa")
    assert st.drop_tasks(["a"]) == 2
    assert [r.task_id for r in st.records()] == ["b"] and st.task_features("a") is None
    assert [t for t, _, _ in st.task_list()] == ["b"]
