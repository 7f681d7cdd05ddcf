"""The two-phase search: Pareto utilities, resumability, no duplicate evaluations, outputs."""

import json
import random
import sqlite3

import pytest

from nasoa.app import search as S
from nasoa.app.executor import LocalExecutor
from nasoa.app.search.loop import _propose
from nasoa.core.errors import NasoaError
from nasoa.app.search import SearchConfig, SearchStore, nondominated_ranks, pareto_front, run_search

TINY = SearchConfig(
    source="builtin:digits?per_class=20", proxy_budget_s=1.5, proxy_epochs=2, input_size=16, batch_size=32,
    block_candidates=4, macro_candidates=3, skeleton_c0=8, skeleton_macro="1-2-2", c0_choices=(8,),
    min_depth=3, max_depth=5, min_random=2, max_params=200_000, top_blocks=1, seed=3,
)


def test_pareto_utilities():
    pts = [(0.9, 10.0), (0.8, 5.0), (0.85, 12.0), (0.7, 4.0), (0.6, 6.0)]
    assert nondominated_ranks(pts) == [0, 0, 1, 0, 1]
    rows = [{"accuracy": a, "step_ms": t, "encoding": str(i)} for i, (a, t) in enumerate(pts)]
    assert [r["encoding"] for r in pareto_front(rows)] == ["3", "1", "0"]
    d = S.crowding(pts, [0, 1, 3])
    assert d[0] == d[3] == float("inf") and 0 < d[1] < float("inf")


class CountingExecutor(LocalExecutor):
    """Runs candidates in this process, noting each encoding; Ctrl-C at the submit after ``interrupt_after``."""

    def __init__(self, interrupt_after=None):
        super().__init__()
        self.calls = []
        self.interrupt_after = interrupt_after

    def submit(self, key, fn, *args):
        if self.interrupt_after is not None and len(self.calls) == self.interrupt_after:
            raise KeyboardInterrupt
        self.calls.append(args[0])
        super().submit(key, fn, *args)


def test_search_runs_both_phases_and_resumes(tmp_path):
    ex = CountingExecutor(interrupt_after=3)
    with pytest.raises(KeyboardInterrupt):
        run_search(tmp_path, TINY, budget_s=600, executor=ex)
    store = SearchStore(tmp_path / "search.sqlite")
    first = {r["encoding"] for r in store.rows(status=None)}
    store.close()
    assert len(first) == 3  # every finished candidate was committed before the interrupt
    ex2 = CountingExecutor()
    report = run_search(tmp_path, TINY, budget_s=600, executor=ex2)
    assert not first & set(ex2.calls)  # nothing re-evaluated
    store = SearchStore(tmp_path / "search.sqlite")
    rows = store.rows(status=None)
    assert len({r["encoding"] for r in rows}) == len(rows)  # no duplicates
    assert len(store.rows("block")) >= TINY.block_candidates and len(store.rows("macro")) >= TINY.macro_candidates
    best_block = max(store.rows("block"), key=lambda r: r["accuracy"])
    from nasoa.core.space import parse

    blocks = {str(parse(r["encoding"]).block) for r in store.rows("macro")}
    front_blocks = {str(parse(r["encoding"]).block) for r in pareto_front(store.rows("block"))}
    assert blocks <= front_blocks  # the macro phase builds on the block phase's front
    assert best_block["accuracy"] > 0.1
    store.close()
    assert report.stop_reason == "complete" and report.front
    for f in ("front.md", "front.png", "candidates.csv", "search.json"):
        assert (tmp_path / f).exists()
    manifest = json.loads((tmp_path / "search.json").read_text())
    assert manifest["evaluated"] == len(rows) and manifest["config"]["seed"] == 3


def test_changed_settings_refused(tmp_path):
    store = SearchStore(tmp_path / "search.sqlite")
    store.set_config(TINY.to_dict())
    store.close()
    with pytest.raises(NasoaError, match="other settings"):
        run_search(tmp_path, SearchConfig(), budget_s=1)


def test_budget_stops_before_starting(tmp_path):
    report = run_search(tmp_path, TINY, budget_s=1.0, executor=CountingExecutor())
    assert report.stop_reason == "budget" and report.new == 0


def test_proposals_respect_constraints(tmp_path):
    store = SearchStore(tmp_path / "s.sqlite")
    rng = random.Random(0)
    cons = TINY.block_constraints()
    seen = set()
    for _ in range(10):
        enc, parent, how = _propose(TINY, store, "block", rng, seen)
        seen.add(enc)
        from nasoa.core.space import parse

        assert cons.check(parse(enc)) is None and enc.split("_", 1)[1] == "8_1-2-2"
    store.close()


def test_search_table_is_versioned_and_a_table_from_before_opens_unchanged(tmp_path):
    path = tmp_path / "search.sqlite"  # as nasoa wrote it before the schema version was kept
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE candidates (id INTEGER PRIMARY KEY, phase TEXT NOT NULL, encoding TEXT NOT NULL "
                "UNIQUE, parent TEXT, how TEXT, status TEXT NOT NULL, accuracy REAL, step_ms REAL, params INTEGER, "
                "macs INTEGER, proxy_steps INTEGER, eval_s REAL, error TEXT, created TEXT NOT NULL)")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('config', '{\"seed\": 3}')")
    con.execute("INSERT INTO candidates (phase, encoding, status, accuracy, created) "
                "VALUES ('block', 'e1', 'done', 0.5, 'x')")
    con.commit()
    con.close()
    store = SearchStore(path)
    assert store.schema_version() == 1 and store.config() == {"seed": 3}
    assert [(r["encoding"], r["accuracy"]) for r in store.rows()] == [("e1", 0.5)]
    store.add({"phase": "macro", "encoding": "e2", "status": "done", "accuracy": 0.6})
    assert store.encodings() == {"e1", "e2"}
    store.close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(NasoaError, match="newer than this nasoa"):
        SearchStore(path)
    (tmp_path / "bad.sqlite").write_bytes(b"junk" * 500)
    with pytest.raises(NasoaError, match="move it away to start a new search"):
        SearchStore(tmp_path / "bad.sqlite")
