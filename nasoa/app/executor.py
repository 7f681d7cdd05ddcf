"""Executors: where the independent runs of a long command (``nasoa meta collect``, ``nasoa bench
adapt``, ``nasoa search``) are carried out.

One interface, three implementations:

* :class:`LocalExecutor` (``--executor local``, the default): each run in this process, one at a
  time, in submission order: the behaviour nasoa always had.
* :class:`ProcessExecutor` (``nasoa search``'s ``--executor local``, ``--workers N``): each run in
  one of ``N`` local worker processes, spawned (the driver never imports torch), that die with the
  driver.
* ``RayExecutor`` (``--executor ray``, :mod:`nasoa.app.executor_ray`, the only module that imports
  ``ray``): each run is a Ray task with declared resources (``--cpus-per-run``,
  ``--gpus-per-run``), on a local Ray started for the command or on a cluster (``--address``).

The driver (the process running the command) owns every store: a run function never opens SQLite;
it returns what it measured and the driver records it. A run function is a module-level function
(Ray sends it by reference) whose arguments and result are plain data.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import ctypes
import importlib.util
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nasoa.core.errors import NasoaError, first_line

__all__ = ["EXECUTORS", "INSTALL_RAY", "Executor", "LocalExecutor", "Outcome", "ProcessExecutor", "check_options",
           "make_executor", "parse_address"]

EXECUTORS = ("local", "ray")
INSTALL_RAY = 'pip install "nasoa[distributed]"'


@dataclass(frozen=True)
class Outcome:
    """A finished run: what its function returned, or why it could not finish (``error``: its
    worker died more often than the retries allow, or the cluster lost its node).

    ``submitted``/``started``/``finished`` are wall-clock times (``time.time()``): the driver's
    when it submitted the run, the worker's when the run's function was called and when it
    returned. ``queue_s`` is the wait in between; a run's budget counts from ``started``."""

    key: Any
    value: Any = None
    error: str | None = None
    submitted: float = 0.0
    started: float | None = None
    finished: float | None = None
    worker: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def queue_s(self) -> float | None:
        if self.started is None:
            return None
        return round(max(0.0, self.started - self.submitted), 3)


class Executor(abc.ABC):
    """Runs submitted calls ``fn(*args, **kwargs)`` and hands back their outcomes as they finish.

    Use it as a context manager: leaving the block by an exception (Ctrl-C, SIGTERM) cancels the
    outstanding runs; leaving it at all releases what the executor started (a local Ray)."""

    name = "executor"
    #: How many runs may usefully be in flight at once (the driver keeps this many submitted).
    slots = 1
    #: Torch threads a run gets (``--cpus-per-run``); None: every core of the process.
    threads_per_run: int | None = None

    @abc.abstractmethod
    def submit(self, key: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Start ``fn(*args, **kwargs)``; its outcome comes back under ``key``."""

    @abc.abstractmethod
    def pending(self) -> int:
        """Runs submitted and not yet handed back by :meth:`next_done`."""

    @abc.abstractmethod
    def next_done(self) -> Outcome:
        """Block until a submitted run finishes; its outcome. An exception raised by the run's
        function is raised here, as it would be by a local call."""

    def warm_up(self, modules: tuple[str, ...] = ()) -> float:
        """Start the workers and import ``modules`` in each, before the first run (a fresh worker
        spends seconds importing torch; that is start-up, not a run's time). Returns the seconds."""
        return 0.0

    def cancel_all(self) -> None:
        """Drop every outstanding run (those running are stopped)."""

    def close(self) -> None:
        """Release what this executor started."""

    def describe(self) -> dict[str, Any]:
        """What to record in a manifest about where the runs ran."""
        return {"executor": self.name}

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None:
                self.cancel_all()
        finally:
            self.close()


class LocalExecutor(Executor):
    """Each run in this process, one at a time, in submission order (nasoa's behaviour without an
    executor: a run's exceptions propagate, its budget starts when it is called)."""

    name = "local"
    slots = 1

    def __init__(self) -> None:
        self._queue: deque[tuple[Any, Callable[..., Any], tuple, dict, float]] = deque()

    def submit(self, key: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._queue.append((key, fn, args, kwargs, time.time()))

    def pending(self) -> int:
        return len(self._queue)

    def next_done(self) -> Outcome:
        if not self._queue:
            raise RuntimeError("next_done() with nothing submitted")
        key, fn, args, kwargs, submitted = self._queue.popleft()
        started = time.time()
        value = fn(*args, **kwargs)
        return Outcome(key=key, value=value, submitted=submitted, started=started, finished=time.time())

    def cancel_all(self) -> None:
        self._queue.clear()


def _die_with_driver(driver_pid: int) -> None:
    """Worker initializer: on Linux, the worker is killed when the driver dies. A SIGKILLed search
    (the OOM killer, ``kill -9``) left its idle worker behind, and the re-run of the search waited
    on it until killed."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != driver_pid:  # the driver died before the line above
        os._exit(1)


def _run_in_worker(fn: Callable[..., Any], args: tuple, kwargs: dict) -> dict[str, Any]:
    """What a worker process runs: the run's function, with the worker's clock around it."""
    started = time.time()
    value = fn(*args, **kwargs)
    return {"value": value, "started": started, "finished": time.time(), "worker": {"pid": os.getpid()}}


class ProcessExecutor(Executor):
    """Runs in ``workers`` local worker processes (1 by default, since one training run already
    uses every core), ``workers`` in flight. The workers are spawned, so the driver never imports
    torch, and die with the driver. A worker that dies mid-run breaks the pool: that run's outcome,
    and those of the runs in flight with it, carry the reason."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self.slots = max(1, workers)
        self._pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                            initializer=_die_with_driver, initargs=(os.getpid(),))
        self._futures: dict[cf.Future, tuple[Any, float]] = {}

    def submit(self, key: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._futures[self._pool.submit(_run_in_worker, fn, args, kwargs)] = (key, time.time())

    def pending(self) -> int:
        return len(self._futures)

    def next_done(self) -> Outcome:
        if not self._futures:
            raise RuntimeError("next_done() with nothing submitted")
        done, _ = cf.wait(list(self._futures), return_when=cf.FIRST_COMPLETED)
        fut = next(iter(done))
        key, submitted = self._futures.pop(fut)
        try:
            r = fut.result()
        except cf.process.BrokenProcessPool as e:  # the worker process died: the run failed
            return Outcome(key=key, submitted=submitted, error=f"{type(e).__name__}: {first_line(e)}")
        return Outcome(key=key, value=r["value"], submitted=submitted, started=r["started"], finished=r["finished"],
                       worker=r["worker"])

    def cancel_all(self) -> None:
        self._futures.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown()

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers}



def parse_address(address: str) -> tuple[str, int] | None:
    """``--address``: ``auto`` (None: the cluster ``ray start`` made on this machine), ``ray://...``
    (None: Ray Client) or ``HOST:PORT`` of a head node."""
    a = address.strip()
    if a == "auto" or a.startswith("ray://"):
        return None
    host, sep, port = a.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise NasoaError(f"--address {address!r} is neither auto nor HOST:PORT (e.g. 10.0.0.5:6379, the port "
                         f"`ray start --head` printed)")
    return host.strip("[]"), int(port)


def check_options(kind: str = "local", *, address: str | None = None, cpus_per_run: float = 1.0,
                  gpus_per_run: float | None = None, retries: int = 2) -> str:
    """Refuse bad ``--executor`` options (and ``ray`` where it is not installed) before any work or
    file is touched; returns the executor's name. Starts nothing."""
    kind = (kind or "local").strip().lower()
    if kind not in EXECUTORS:
        raise NasoaError(f"unknown --executor {kind!r}; use local or ray")
    if kind == "local":
        if address is not None:
            raise NasoaError("--address needs --executor ray")
        return kind
    if address is not None:
        parse_address(address)
    if cpus_per_run <= 0:
        raise NasoaError(f"--cpus-per-run {cpus_per_run:g} must be > 0")
    if gpus_per_run is not None and gpus_per_run < 0:
        raise NasoaError(f"--gpus-per-run {gpus_per_run:g} must be >= 0")
    if retries < 0:
        raise NasoaError(f"--retries {retries} must be >= 0")

    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # a broken or blanked-out install
        found = False
    if not found:
        raise NasoaError(f"--executor ray needs Ray, which is not installed here; run: {INSTALL_RAY}")
    return kind


def make_executor(kind: str = "local", *, address: str | None = None, cpus_per_run: float = 1.0,
                  gpus_per_run: float | None = None, retries: int = 2, local_cpus: int | None = None) -> Executor:
    """The executor a command's ``--executor`` names (options checked by :func:`check_options`).
    ``ray`` needs the ``distributed`` extra; it starts or joins Ray here."""
    kind = check_options(kind, address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
                         retries=retries)
    if kind == "local":
        return LocalExecutor()
    try:  # ray is imported only here, when it is asked for (it costs about 0.5 s)
        from nasoa.app.executor_ray import RayExecutor  # lazy: ray (~0.5 s), imported only when asked for
    except ImportError as e:
        if (e.name or "").split(".")[0] != "ray":
            raise
        raise NasoaError(f"--executor ray needs Ray, which is not installed here; run: {INSTALL_RAY}") from None
    return RayExecutor(address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run, retries=retries,
                       local_cpus=local_cpus)
