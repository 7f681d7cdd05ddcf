"""The Ray executor (``--executor ray``): each run a Ray task with declared resources.

The only module of nasoa that imports ``ray`` (an optional extra: ``pip install
"nasoa[distributed]"``); :func:`nasoa.app.executor.make_executor` imports it when ``ray`` is asked for.

* Where: ``address=None`` starts a local Ray for the command (stopped when the command ends, Ctrl-C
  and SIGTERM included); ``"auto"`` joins the cluster this machine belongs to (``ray start``);
  ``HOST:PORT`` a given head node. A Ray already initialised in this process is used as it is.
* Resources: each run asks for ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs (default: one GPU
  where the cluster has any, else none). Ray places it on a node with those free and sets
  ``CUDA_VISIBLE_DEVICES`` to the GPUs it was given; the run's torch threads follow its CPUs.
* Faults: a worker process that dies mid-run (SIGKILL, out of memory, a lost node) is retried up to
  ``retries`` times on a fresh worker; after that the run's outcome carries the reason. A run's
  exception (a user error) is not retried: it is raised in the driver as a local run's would be.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import ray
import ray.exceptions

from nasoa.core.errors import NasoaError, first_line
from nasoa.app.executor import Executor, Outcome, parse_address
from nasoa.core.runtime import ENV_THREADS

CONNECT_TIMEOUT_S = 5.0

__all__ = ["RayExecutor"]

# Worker deaths Ray retries (max_retries); once the retries are spent, the run is reported failed.
_WORKER_LOST = tuple(getattr(ray.exceptions, n) for n in (
    "WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "LocalRayletDiedError", "ObjectLostError",
    "OwnerDiedError", "TaskUnschedulableError", "RaySystemError") if hasattr(ray.exceptions, n))


def _run_in_worker(fn: Callable[..., Any], threads: int, args: tuple, kwargs: dict) -> dict[str, Any]:
    """What a Ray task runs: the run's function, with torch limited to the CPUs the task was given;
    the worker's clock around it (the run's budget starts at ``started``)."""
    os.environ[ENV_THREADS] = str(threads)  # nasoa.core.runtime.available_cores() reads it (the trainer does)
    import torch  # lazy: torch; loads in the Ray worker, the driver's import stays light

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    started = time.time()  # a fresh worker's start-up (torch's import) counts as queue time, not budget
    value = fn(*args, **kwargs)
    return {"value": value, "started": started, "finished": time.time(),
            "worker": {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), "threads": threads,
                       "gpus": [str(g) for g in ray.get_gpu_ids()]}}  # Ray's node id: never a hostname


def _import(modules: tuple[str, ...]) -> int:
    """A warm-up task: the worker imports what the runs will need."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return os.getpid()


def _forwarded_env() -> dict[str, str]:
    """nasoa's settings (zoo, data and cache dirs, kernels) for the workers, as the driver has them;
    on a cluster, those paths must exist on every node."""
    return {k: v for k, v in os.environ.items() if k.startswith("NASOA_") and k not in (ENV_THREADS, "NASOA_STORE")}


class RayExecutor(Executor):
    """Runs as Ray tasks (see the module docstring); as many in flight as the cluster has room for
    (``slots``: its CPUs over ``cpus_per_run``, its GPUs over ``gpus_per_run``)."""

    name = "ray"

    def __init__(self, *, address: str | None = None, cpus_per_run: float = 1.0, gpus_per_run: float | None = None,
                 retries: int = 2, local_cpus: int | None = None) -> None:
        self.address = address
        self.cpus_per_run = float(cpus_per_run)
        self.retries = int(retries)
        self.threads_per_run = max(1, int(cpus_per_run))
        self._owned = False  # this executor called ray.init (and calls ray.shutdown)
        self._refs: dict[Any, tuple[Any, float, str]] = {}
        if not ray.is_initialized():
            self._init(address, local_cpus)
        try:
            resources = ray.cluster_resources()
        except Exception as e:  # noqa: BLE001 - a cluster that went away between init and here
            self.close()
            raise NasoaError(f"the Ray cluster does not answer: {first_line(e) or type(e).__name__}") from None
        cpus = float(resources.get("CPU", 0.0))
        gpus = float(resources.get("GPU", 0.0))
        self.gpus_per_run = float(gpus_per_run) if gpus_per_run is not None else (1.0 if gpus > 0 else 0.0)
        if self.cpus_per_run > cpus or self.gpus_per_run > gpus:
            self.close()
            raise NasoaError(f"a run asks for {self.cpus_per_run:g} CPU and {self.gpus_per_run:g} GPU but the Ray "
                             f"cluster has {cpus:g} CPU and {gpus:g} GPU; lower --cpus-per-run/--gpus-per-run")
        slots = int(cpus // self.cpus_per_run)
        if self.gpus_per_run > 0:
            slots = min(slots, int(gpus // self.gpus_per_run))
        self.slots = max(1, slots)
        self._task = ray.remote(_run_in_worker)

    def _init(self, address: str | None, local_cpus: int | None) -> None:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
                                  "runtime_env": {"env_vars": _forwarded_env()}}
        if address is None:  # a local Ray for this command
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # Ray >= 2.60 would write a token in ~
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            kwargs["num_cpus"] = local_cpus
        else:
            kwargs["address"] = address
            head = parse_address(address)
            if head is not None:  # Ray would retry an unreachable head for minutes, logging each try
                try:
                    socket.create_connection(head, timeout=CONNECT_TIMEOUT_S).close()
                except OSError as e:
                    raise NasoaError(f"nothing answers at --address {address} ({e.strerror or e}); start the head "
                                     f"there with `ray start --head --port {head[1]}`, or use --address auto on a "
                                     f"machine of the cluster") from None
        main = threading.current_thread() is threading.main_thread()
        handler = signal.getsignal(signal.SIGTERM) if main else None
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"at {address}" if address != "auto" else "on this machine (--address auto)"
            raise NasoaError(f"cannot join a Ray cluster {where}: {first_line(e) or type(e).__name__}; start one with `ray start "
                             f"--head` or leave out --address for a local Ray") from None
        finally:
            if main and handler is not None:  # ray.init replaces it with an exit(1); keep the command's
                signal.signal(signal.SIGTERM, handler)
        self._owned = True

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "address": self.address or "local", "cpus_per_run": self.cpus_per_run,
                "gpus_per_run": self.gpus_per_run, "retries": self.retries, "slots": self.slots}

    def submit(self, key: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        name = getattr(fn, "__name__", "run")
        ref = self._task.options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run, max_retries=self.retries,
                                 retry_exceptions=False, name=f"nasoa.{name}").remote(
            fn, self.threads_per_run, args, kwargs)
        self._refs[ref] = (key, time.time(), name)

    def pending(self) -> int:
        return len(self._refs)

    def warm_up(self, modules: tuple[str, ...] = ()) -> float:
        t = time.time()
        refs = [self._task.options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run, name="nasoa.warm_up").remote(
            _import, self.threads_per_run, (tuple(modules),), {}) for _ in range(self.slots)]
        try:
            ray.get(refs)
        except ray.exceptions.RayError:  # a worker that failed to start: the runs will meet it and say so
            pass
        return round(time.time() - t, 2)

    def next_done(self) -> Outcome:
        if not self._refs:
            raise RuntimeError("next_done() with nothing submitted")
        (ref,), _ = ray.wait(list(self._refs), num_returns=1)
        key, submitted, name = self._refs.pop(ref)
        try:
            out = ray.get(ref)
        except ray.exceptions.RayTaskError as e:  # the run's own exception: raise it as a local run would
            cause = getattr(e, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise
        except _WORKER_LOST as e:
            attempts = self.retries + 1
            return Outcome(key=key, submitted=submitted, finished=time.time(),
                           error=f"its worker was lost on each of {attempts} attempt{'s' * (attempts > 1)} "
                                 f"({type(e).__name__}: {first_line(e) or type(e).__name__})")
        return Outcome(key=key, value=out["value"], submitted=submitted, started=out["started"],
                       finished=out["finished"], worker=out["worker"])

    def cancel_all(self) -> None:
        """Drop every outstanding run. With a connection this executor opened, the running ones stop
        when :meth:`close` disconnects (as every caller does next); otherwise they are cancelled."""
        refs, self._refs = list(self._refs), {}
        if not refs:
            return
        if self._owned:
            # close() disconnects this driver, which ends its job, and Ray stops the job's running
            # tasks with it. A ray.cancel here would race a reply already in flight inside Ray's core
            # worker and can abort the driver (Ray 2.58: "task_manager.cc Check failed: ... Tried to
            # complete task that was not pending", ray-project/ray#54846), losing the exit code.
            return
        # Someone else's connection (it outlives us): cancel what has not finished; skipping the
        # finished ones narrows the race above to a reply arriving in this very call.
        _, refs = ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in refs:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished, or the cluster is gone: nothing to stop
                pass

    def close(self) -> None:
        if self._owned:
            self._owned = False
            ray.shutdown()

