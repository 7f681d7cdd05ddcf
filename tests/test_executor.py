"""Executors (nasoa.app.executor): the local one, and Ray with faults: a worker SIGKILLed mid-run, the
driver interrupted mid-batch. Ray tests share one local Ray with 2 CPUs (started once, 4-6 s)."""

from __future__ import annotations

import glob
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from nasoa.core.errors import NasoaError

TINY = "031-_8_1-1-21-1"
TINY_REC = {"name": TINY, "encoding": TINY, "family": "etnas", "input_size": 16, "source": "none (smoke test)",
            "source_accuracy": 0.1, "params": 5000, "macs": 1e5, "depth": 4, "width": 8,
            "train_step_ms": {"0": 3.0, "1": 2.5, "2": 2.0}, "train_step_batch": 64}


def _config(runs: int, seed: int = 1, budget: float = 2.0):
    from nasoa.app.collect import CollectConfig

    return CollectConfig(runs=runs, seed=seed, budgets=(budget,), runs_per_task=2, sources=("digits",),
                         per_class=(10,), max_classes=3, logme_images=40, pretrained=False)


def _check_store(path: Path, key: str, runs: int, planned: int | None = None) -> list[dict]:
    """The store is sound, its counter says ``runs`` and each sampled index was recorded at most once
    (a skipped one: not at all); below ``planned`` where an interrupted collection may have
    recorded runs ahead of its counter. Returns the runs' rows."""
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = [{"uid": u, "extra": json.loads(x)} for u, x in con.execute("SELECT uid, extra FROM runs")]
        counter = con.execute("SELECT value FROM meta WHERE key = ?", (f"counter:{key}",)).fetchone()
    finally:
        con.close()
    assert (int(counter[0]) if counter else 0) == runs  # no row yet: nothing counted
    indices = [r["extra"]["collect"]["index"] for r in rows]
    assert len(set(r["uid"] for r in rows)) == len(rows)
    assert len(set(indices)) == len(indices) and set(indices) <= set(range(planned or runs))
    return rows


# ---------------------------------------------------------------------------------------------
# The interface, without Ray


def _square(x: int) -> int:
    return x * x


def _refuse(x: int) -> int:
    raise NasoaError(f"refused {x}")


def test_local_executor_runs_in_order_and_raises_like_a_call():
    from nasoa.app.executor import LocalExecutor, make_executor

    ex = make_executor("local")
    assert isinstance(ex, LocalExecutor) and ex.slots == 1 and ex.threads_per_run is None
    with ex:
        for k in (3, 1, 2):
            ex.submit(k, _square, k)
        outs = [ex.next_done() for _ in range(3)]
        assert [(o.key, o.value) for o in outs] == [(3, 9), (1, 1), (2, 4)] and all(o.ok for o in outs)
        assert all(o.queue_s is not None and o.queue_s >= 0 for o in outs)
        ex.submit("x", _refuse, 7)
        with pytest.raises(NasoaError, match="refused 7"):
            ex.next_done()
        ex.submit("y", _square, 2)
    assert ex.pending() == 1  # left by an exception: nothing to cancel locally but the queue
    with pytest.raises(ZeroDivisionError), LocalExecutor() as ex2:
        ex2.submit("z", _square, 1)
        raise ZeroDivisionError
    assert ex2.pending() == 0  # an exception in the block cancels what is outstanding



def test_process_executor_runs_in_workers_and_reports_a_dead_one():
    """nasoa search's local executor: spawned worker processes, a run's exception raised in the
    driver, a worker that dies mid-run reported as that run's failure."""
    import math

    from nasoa.app.executor import ProcessExecutor

    with ProcessExecutor(workers=2) as ex:
        assert ex.slots == 2 and ex.describe() == {"executor": "local", "workers": 2}
        for k in (5, 3):
            ex.submit(k, math.factorial, k)
        outs = sorted((ex.next_done() for _ in range(2)), key=lambda o: o.key)
        assert [(o.key, o.value) for o in outs] == [(3, 6), (5, 120)] and all(o.ok for o in outs)
        assert all(o.worker["pid"] != os.getpid() and o.queue_s is not None for o in outs)
        ex.submit("bad", math.sqrt, -1)
        with pytest.raises(ValueError):
            ex.next_done()
        ex.submit("dies", os._exit, 3)
        out = ex.next_done()
        assert out.key == "dies" and not out.ok and "BrokenProcessPool" in out.error
        assert ex.pending() == 0


class _LastFirst:
    """An executor with 3 slots that finishes the last submitted run first (runs complete out of
    order, as on a cluster), in this process; Ctrl-C after ``stop_after`` outcomes."""

    name = "last-first"
    slots = 3
    threads_per_run = None

    def __init__(self, stop_after: int | None = None):
        from nasoa.app.executor import LocalExecutor

        self._local = LocalExecutor()
        self.stop_after = stop_after
        self.order: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._local.cancel_all()

    def warm_up(self, modules=()):
        return 0.0

    def describe(self):
        return {"executor": self.name}

    def submit(self, key, fn, *args, **kwargs):
        self._local.submit(key, fn, *args, **kwargs)

    def pending(self):
        return self._local.pending()

    def next_done(self):
        if self.stop_after is not None and len(self.order) == self.stop_after:
            raise KeyboardInterrupt
        self._local._queue.rotate(1)  # the newest first
        out = self._local.next_done()
        self.order.append(out.key[:2])
        return out


def test_runs_finished_out_of_order_are_counted_in_order_and_never_redone(tmp_path):
    """The driver's bookkeeping without Ray: runs finishing ahead of an earlier one are stored at
    once, counted when the earlier ones are done; interrupted there, a re-run does only the rest."""
    from nasoa.app.collect import collect
    from nasoa.meta.store import ExperienceStore

    cfg = _config(4, seed=6, budget=2.0)
    path = tmp_path / "s.sqlite"
    first = _LastFirst(stop_after=4)  # the two tasks' features, then runs 2 and 3; then Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        collect(cfg, ExperienceStore(path), records=[TINY_REC], executor=first)
    assert sorted(first.order) == [("run", 2), ("run", 3), ("task", 0), ("task", 1)]
    st = ExperienceStore(path)
    stored = {r.extra["collect"]["index"] for r in st.records()}
    assert stored == {2, 3} and st.counter(cfg.counter_key) == 0  # stored ahead of the counter
    st.close()
    second = _LastFirst()
    out = collect(cfg, ExperienceStore(path), records=[TINY_REC], executor=second)
    assert [k for k in second.order if k[0] == "run"] == [("run", 1), ("run", 0)]  # only what was not stored
    assert out["before"] == 0 and out["appended"] == 2
    rows = _check_store(path, cfg.counter_key, 4)
    assert sorted(r["extra"]["collect"]["index"] for r in rows) == [0, 1, 2, 3]


def test_a_collection_whose_last_runs_are_skipped_at_sampling_ends(tmp_path):
    """No regime fits 1.5 s on these tasks: every run is skipped by the driver, none submitted."""
    from nasoa.app.collect import collect
    from nasoa.meta.store import ExperienceStore

    cfg = _config(4, seed=6, budget=1.5)
    out = collect(cfg, ExperienceStore(tmp_path / "s.sqlite"), records=[TINY_REC])
    assert out["skipped"] == 4 and out["appended"] == 0
    _check_store(tmp_path / "s.sqlite", cfg.counter_key, 4)


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "dask"}, "unknown --executor 'dask'"),
    ({"kind": "local", "address": "auto"}, "--address needs --executor ray"),
    ({"kind": "ray", "cpus_per_run": 0}, "--cpus-per-run 0 must be > 0"),
    ({"kind": "ray", "retries": -1}, "--retries -1 must be >= 0"),
    ({"kind": "ray", "address": "head-node"}, "--address 'head-node' is neither auto nor HOST:PORT"),
    ({"kind": "ray", "address": "10.0.0.5:99999"}, "--address '10.0.0.5:99999' is neither auto nor HOST:PORT"),
])
def test_make_executor_refuses_bad_options(kwargs, message):
    from nasoa.app.executor import make_executor

    with pytest.raises(NasoaError, match=message.replace("(", r"\(")):
        make_executor(**kwargs)


def test_without_ray_the_error_names_the_install_command(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from nasoa.cli.main import app
    from nasoa.app.executor import INSTALL_RAY, make_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as where it is not installed
    monkeypatch.delitem(sys.modules, "nasoa.app.executor_ray", raising=False)
    with pytest.raises(NasoaError, match="pip install"):
        make_executor("ray")
    res = CliRunner().invoke(app, ["meta", "collect", "--runs", "1", "--store", str(tmp_path / "s.sqlite"),
                                   "--executor", "ray"])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --executor ray needs Ray") and INSTALL_RAY in lines[0]
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.parametrize("args, message", [
    (["meta", "collect", "--runs", "1", "--executor", "dask"], "unknown --executor 'dask'; use local or ray"),
    (["meta", "collect", "--runs", "1", "--executor", "ray", "--address", "nowhere"], "neither auto nor HOST:PORT"),
    (["meta", "collect", "--runs", "1", "--address", "auto"], "--address needs --executor ray"),
    (["search", "--budget", "1s", "--address", "auto"], "--address needs --executor ray"),
    (["bench", "adapt", "--executor", "ray", "--cpus-per-run", "0"], "--cpus-per-run"),
])
def test_cli_refuses_bad_executor_options_in_one_line(tmp_path, args, message):
    from typer.testing import CliRunner

    from nasoa.cli.main import app

    where = ["--out", str(tmp_path / "out")] if args[0] != "meta" else ["--store", str(tmp_path / "s.sqlite")]
    res = CliRunner().invoke(app, [*args, *where])
    lines = res.output.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "s.sqlite").exists()  # refused before any file


def test_help_does_not_import_ray():
    code = "import sys; import nasoa.cli.main; print('ray' in sys.modules, 'nasoa.app.executor' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_available_cores_follows_the_cpus_an_executor_gave(monkeypatch):
    from nasoa.core.runtime import ENV_THREADS, available_cores

    monkeypatch.delenv(ENV_THREADS, raising=False)
    n = available_cores()
    monkeypatch.setenv(ENV_THREADS, "1")
    assert available_cores() == 1
    monkeypatch.setenv(ENV_THREADS, str(n + 5))
    assert available_cores() == n  # never more than the process may run on
    monkeypatch.setenv(ENV_THREADS, "zero")
    assert available_cores() == n


# ---------------------------------------------------------------------------------------------
# Ray: one local Ray with 2 CPUs for this module


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _ray_executor(**kw):
    from nasoa.app.executor import make_executor

    return make_executor("ray", **kw)


def test_ray_collect_equals_the_local_run_count(tmp_path, ray_cluster):
    from nasoa.app.collect import collect
    from nasoa.meta.store import ExperienceStore

    cfg = _config(4)
    local = collect(cfg, ExperienceStore(tmp_path / "local.sqlite"), records=[TINY_REC])
    ex = _ray_executor()
    assert ex.slots == 2 and ex.threads_per_run == 1 and ex.gpus_per_run == 0
    events = []
    dist = collect(cfg, ExperienceStore(tmp_path / "ray.sqlite"), records=[TINY_REC], executor=ex,
                   on_event=events.append)
    assert dist["appended"] + dist["skipped"] == local["appended"] + local["skipped"] == 4
    assert dist["appended"] == local["appended"] >= 3 and dist["failed"] == 0 and dist["executor"] == "ray"
    rows_local = _check_store(tmp_path / "local.sqlite", cfg.counter_key, 4)
    rows = _check_store(tmp_path / "ray.sqlite", cfg.counter_key, 4)
    assert {r["extra"]["collect"]["index"] for r in rows} == {r["extra"]["collect"]["index"] for r in rows_local}
    for r in rows:  # where and when each ran: one thread per 1-CPU run, its wait kept apart from its budget
        assert r["extra"]["executor"] == "ray" and r["extra"]["threads"] == 1 and r["extra"]["queue_s"] >= 0
        assert r["extra"]["worker"]["pid"] != os.getpid() and "node" not in r["extra"]["worker"]  # no hostname
    assert "executor" not in rows_local[0]["extra"]
    assert sorted(e["index"] for e in events if e["event"] == "task") == [0, 1]  # the second one's fetched ahead
    # A second pass has nothing left to do.
    again = collect(cfg, ExperienceStore(tmp_path / "ray.sqlite"), records=[TINY_REC], executor=_ray_executor())
    assert again["appended"] == again["skipped"] == 0


def _kill_first_worker(name: str, found: list[int], delay_s: float, timeout_s: float = 120.0) -> None:
    """SIGKILL the first process Ray titles ``ray::nasoa.<name>`` (a worker running that run
    function), ``delay_s`` after it appears."""
    deadline = time.time() + timeout_s
    title = f"ray::nasoa.{name}".encode()
    while time.time() < deadline:
        for path in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                cmd = Path(path).read_bytes()
            except OSError:
                continue
            if cmd.startswith(title):
                pid = int(path.split("/")[2])
                time.sleep(delay_s)
                os.kill(pid, signal.SIGKILL)
                found.append(pid)
                return
        time.sleep(0.05)


def test_a_worker_killed_mid_run_is_retried_and_recorded_once(tmp_path, ray_cluster):
    from nasoa.app.collect import collect
    from nasoa.meta.store import ExperienceStore

    cfg = _config(4, seed=3, budget=2.0)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_worker, args=("collect_run_job", killed, 1.0), daemon=True)
    killer.start()
    out = collect(cfg, ExperienceStore(tmp_path / "s.sqlite"), records=[TINY_REC], executor=_ray_executor(retries=2))
    killer.join(timeout=5)
    assert killed, "no worker was running a collect run"
    assert out["failed"] == 0 and out["appended"] + out["skipped"] == 4
    rows = _check_store(tmp_path / "s.sqlite", cfg.counter_key, 4)
    assert len(rows) == out["appended"]
    assert all(r["extra"]["worker"]["pid"] != killed[0] for r in rows)


def test_a_run_whose_worker_dies_past_the_retries_is_recorded_failed(tmp_path, ray_cluster):
    from nasoa.app.collect import collect
    from nasoa.meta.store import ExperienceStore

    cfg = _config(2, seed=4, budget=3.0)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_worker, args=("collect_run_job", killed, 0.5), daemon=True)
    killer.start()
    st = ExperienceStore(tmp_path / "s.sqlite")
    events = []
    out = collect(cfg, st, records=[TINY_REC], executor=_ray_executor(retries=0), on_event=events.append)
    killer.join(timeout=5)
    assert killed and out["failed"] == 1 and out["appended"] + out["skipped"] == 1
    (fail,) = [e for e in events if e["event"] == "fail"]
    reason = st.get_meta(f"{cfg.counter_key}:failed:{fail['index']}")
    assert reason == fail["reason"] and "worker was lost on each of 1 attempt" in reason
    _check_store(tmp_path / "s.sqlite", cfg.counter_key, 2)


# ---------------------------------------------------------------------------------------------
# The CLI driver interrupted mid-batch

_DRIVER = """
import sys
from nasoa.zoo import registry
user = [r for r in registry.records() if r["origin"] == "user"]
registry.records = lambda include_user=True: [dict(r) for r in user]  # the test's one-member zoo
from nasoa.cli.main import main
sys.argv = ["nasoa", *sys.argv[1:]]
main()
"""


def _collect_cli(tmp_path: Path, store: Path, runs: int, *extra: str) -> list[str]:
    script = tmp_path / "driver.py"
    script.write_text(_DRIVER)
    return [sys.executable, str(script), "meta", "collect", "--runs", str(runs), "--store", str(store), "--seed", "5",
            "--budgets", "2", "--runs-per-task", "2", "--source", "digits", "--per-class", "10", "--max-classes", "3",
            "--logme-images", "20", "--executor", "ray", *extra]


def _wait_for_runs(store: Path, n: int, proc: subprocess.Popen, timeout_s: float = 180.0) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if store.exists():
            con = sqlite3.connect(store, timeout=30)
            try:
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if "runs" in tables and con.execute("SELECT count(*) FROM runs").fetchone()[0] >= n:
                    return
            finally:
                con.close()
        time.sleep(0.2)
    raise AssertionError(f"fewer than {n} runs in {store} after {timeout_s:.0f}s")


def _interrupt_and_resume(tmp_path: Path, sig: int, code: int, *address: str, group: bool = False) -> None:
    """Start a collection, signal its driver (``group``: its whole process group, as Ctrl-C in a
    terminal does) once a run is stored; then check the store and resume."""
    from nasoa.meta.store import ExperienceStore

    store = tmp_path / "s.sqlite"
    key = "collect:seed=5"
    proc = subprocess.Popen(_collect_cli(tmp_path, store, 4, *address), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=group)
    _wait_for_runs(store, 1, proc)
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] == ("interrupted" if code == 130 else "terminated")
    st = ExperienceStore(store)
    st.check()
    stopped_at = st.counter(key)
    assert stopped_at < 4 and st.count() >= 1  # runs may have finished ahead of the counter
    _check_store(store, key, stopped_at, planned=4)
    st.close()
    res = subprocess.run(_collect_cli(tmp_path, store, 4, *address, "--json"), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["before"] == stopped_at and summary["failed"] == 0
    rows = _check_store(store, key, 4)
    assert len(rows) == summary["runs_in_store"]


def test_driver_sigint_mid_batch_exits_130_and_a_rerun_completes(tiny_zoo, ray_cluster):
    _interrupt_and_resume(tiny_zoo, signal.SIGINT, 130, "--address", ray_cluster)


_SLEEPER = """
import sys, time
from nasoa.app.executor import make_executor

with make_executor("ray", address=sys.argv[1]) as ex:
    for key in range(ex.slots):
        ex.submit(key, time.sleep, 600)
    print("submitted", flush=True)
    ex.next_done()
"""


def test_an_interrupted_driver_s_running_tasks_stop_with_it(tmp_path, ray_cluster):
    """Ctrl-C while runs are in flight on a cluster the command joined: the driver exits and the
    cluster's CPUs come back at once (the runs are stopped, not left to finish their 600 s)."""
    import ray

    script = tmp_path / "sleeper.py"
    script.write_text(_SLEEPER)
    total = ray.cluster_resources()["CPU"]
    proc = subprocess.Popen([sys.executable, str(script), ray_cluster], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "submitted", proc.communicate()
        deadline = time.time() + 120
        while ray.available_resources().get("CPU", 0.0) > 0 and time.time() < deadline:
            time.sleep(0.2)  # both runs started
        assert ray.available_resources().get("CPU", 0.0) == 0
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert "KeyboardInterrupt" in err and "Check failed" not in err, err
    deadline = time.time() + 60
    while ray.available_resources().get("CPU", 0.0) < total and time.time() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0.0) == total, "the interrupted driver's runs kept running"


def _ray_processes() -> set[int]:
    pids = set()
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            cmd = Path(path).read_bytes()
        except OSError:
            continue
        if cmd.startswith(b"ray::") or b"/ray/core/src/ray/" in cmd or b"raylet" in cmd or b"gcs_server" in cmd:
            pids.add(int(path.split("/")[2]))
    return pids


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, group", [(signal.SIGTERM, 143, False), (signal.SIGINT, 130, True)],
                         ids=["sigterm", "ctrl-c-to-the-group"])
def test_driver_signal_stops_the_local_ray_it_started(tiny_zoo, sig, code, group):
    """Without --address the command starts its own Ray; SIGTERM (exit 143) or Ctrl-C in a terminal
    (SIGINT to the driver and every Ray process it started; exit 130): that Ray is stopped."""
    pytest.importorskip("ray")
    before = _ray_processes()
    _interrupt_and_resume(tiny_zoo, sig, code, group=group)
    deadline = time.time() + 30
    while _ray_processes() - before and time.time() < deadline:
        time.sleep(0.5)
    assert not _ray_processes() - before, "the command's local Ray outlived it"


# ---------------------------------------------------------------------------------------------
# nasoa search on Ray: the driver alone writes search.sqlite


@pytest.mark.slow
def test_search_on_ray_gives_a_front_like_the_local_search(tmp_path, ray_cluster):
    from nasoa.app.search import SearchStore, run_search
    from test_search import TINY

    cfg = replace(TINY, block_candidates=3, macro_candidates=2)
    report = run_search(tmp_path, cfg, budget_s=600, executor=_ray_executor())
    assert report.stop_reason == "complete" and report.front and report.new == report.evaluated
    store = SearchStore(tmp_path / "search.sqlite")
    rows = store.rows(status=None)
    assert len({r["encoding"] for r in rows}) == len(rows)
    assert len(store.rows("block")) >= 3 and len(store.rows("macro")) >= 2
    assert all(r["step_ms"] > 0 for r in store.rows())
    store.close()
    for f in ("front.md", "front.png", "candidates.csv", "search.json"):
        assert (tmp_path / f).exists()
    again = run_search(tmp_path, cfg, budget_s=600, executor=_ray_executor())
    assert again.new == 0  # resumed: nothing left


# ---------------------------------------------------------------------------------------------
# nasoa bench adapt on Ray: rows run in the workers' temp dirs, the driver writes the row files

_BENCH_DRIVER = """
import os, sys

import ray


def tiny_zoo_only():  # in the driver and in every Ray worker: the test's one-member zoo, no shipped experience
    from pathlib import Path

    import nasoa.app.experience
    from nasoa.zoo import registry

    user = [r for r in registry.records() if r["origin"] == "user"]
    registry.records = lambda include_user=True: [dict(r) for r in user]
    nasoa.app.experience.shipped_experience = lambda: Path(os.environ["NASOA_ZOO_DIR"]) / "no-shipped-experience.parquet"


tiny_zoo_only()
env = {k: v for k, v in os.environ.items() if k.startswith("NASOA_")}
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
         runtime_env={"env_vars": env, "worker_process_setup_hook": tiny_zoo_only})
from nasoa.cli.main import main

sys.argv = ["nasoa", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_bench_adapt_on_ray_writes_the_rows_a_local_run_writes(tiny_zoo):
    pytest.importorskip("ray")
    from test_bench import TINY_TASKS

    script = tiny_zoo / "bench_driver.py"
    script.write_text(_BENCH_DRIVER)
    out = tiny_zoo / "bench"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    args = [sys.executable, str(script), "bench", "adapt", "--budgets", "8s", "--task", TINY_TASKS[0], "--strategies",
            "nasoa,default", "--ratio-budgets", "", "--out", str(out), "--executor", "ray"]
    res = subprocess.run(args, capture_output=True, text=True, timeout=400, env=env)
    assert res.returncode == 0, res.stderr + res.stdout
    rows = [json.loads(x) for x in (out / "rows.jsonl").read_text().splitlines()]
    assert sorted(x["strategy"] for x in rows) == ["default", "nasoa"]
    for x in rows:  # the fields the local rows have (tests/test_bench.py), and where each ran
        assert "error" not in x and x["model"] == "tiny_member" and x["input_size"] == 16
        assert 0.0 <= x["test_accuracy"] <= 1.0 and 0.0 <= x["val_accuracy"] <= 1.0 and x["epochs"] > 0
        assert x["store_seen"] == {"runs": 0, "cached_tasks": 0}
        assert x["wall_s"] <= 8 * 2  # deadlines are bench budgets' business; here two rows may share one core
        assert x["executor"] == "ray" and x["queue_s"] >= 0 and x["worker"]["pid"]
    report = json.loads((out / "adapt.json").read_text())
    assert len(report["rows"]) == 2 and report["invocations"][-1]["executor"]["executor"] == "ray"
    assert not (out / "work").exists()
    again = subprocess.run(args, capture_output=True, text=True, timeout=400, env=env)  # resumes: nothing to run
    assert again.returncode == 0 and "val " not in again.stdout
    assert len((out / "rows.jsonl").read_text().splitlines()) == 2
