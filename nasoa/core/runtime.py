"""Small runtime helpers shared by the trainer, the CLI and the benches: clocks, durations,
threads, versions, atomic files."""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nasoa.core.errors import NasoaError

_IMPORTED_AT = time.time()
# The interpreter's start-up before this module is imported (Python, site, the CLI's first imports):
# well under a second idle, a few seconds on an oversubscribed machine, never this long.
STARTUP_BOUND_S = 10.0


def process_start_time() -> float:
    """Wall-clock time (``time.time()`` scale) at which this process started.

    A budget is a deadline from the command's start, so the interpreter start-up and the imports
    count. On Linux this reads the process age from /proc (10 ms resolution); elsewhere it falls
    back to when nasoa was first imported.

    /proc dates the process, not the program: a shell execs its last command in place
    (``bash -c 'bash install.sh && nasoa adapt ...'``, a CI step), so that process began when the
    shell did, and the install's minutes counted against the budget (a 60 s adapt refused after
    "172 s" of loading). A process older than this module by more than :data:`STARTUP_BOUND_S` ran
    something else before nasoa: the budget then counts from the import.
    """
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 overall; fields[0] is field 3
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
        if 0 <= age < 7 * 86400 and age - (time.time() - _IMPORTED_AT) <= STARTUP_BOUND_S:
            return time.time() - age
    except (OSError, ValueError, IndexError):
        pass
    return _IMPORTED_AT


_DURATION_RE = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?")


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``90``, ``90s``, ``5m``, ``1h``, ``1m30s``, ``1.5h``."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip().lower().replace(" ", "")
        m = _DURATION_RE.fullmatch(s)
        if not s or m is None or not any(m.groups()):
            raise NasoaError(f"cannot read the duration {text!r}; write it like 90s, 5m, 1h or 1m30s")
        h, mi, se = (float(g) if g else 0.0 for g in m.groups())
        value = h * 3600 + mi * 60 + se
    if not value > 0:
        raise NasoaError(f"the duration {text!r} must be positive")
    return value


_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def check_name(name: str, what: str = "name") -> str:
    """``name`` if it is a plain name, safe to become a file or folder name of its own (a zoo member,
    a member-name prefix, a run dir); else a NasoaError. A plain name is a letter followed by up to
    63 letters, digits, ``_``, ``.`` or ``-``, without ``..``: never a path such as ``../x`` or
    ``/abs/x``, which would write outside the folder it is meant for."""
    text = name if isinstance(name, str) else str(name)
    if _NAME_RE.fullmatch(text) is not None and ".." not in text:
        return text
    if not text:
        why = "is empty"
    elif "/" in text or "\\" in text or ".." in text:
        why = "is a path"
    elif len(text) > 64:
        why = f"is {len(text)} characters long (64 at most)"
    elif not text[0].isascii() or not text[0].isalpha():
        why = "does not start with a letter"
    else:
        why = f"contains {next(ch for ch in text if not (ch.isascii() and (ch.isalnum() or ch in '_.-')))!r}"
    raise NasoaError(
        f"the {what} {text!r} {why}; use a plain name: a letter, then letters, digits, '_', '.' or '-' "
        f"(64 characters at most, no '..'), e.g. my_net"
    )


ENV_DATA_DIR = "NASOA_DATA_DIR"


def user_data_dir() -> Path:
    """Where nasoa keeps what it measures, learns and registers for this user: ``$NASOA_DATA_DIR``,
    else the platform's user data dir (``~/.local/share/nasoa`` on Linux). The installed package
    is only ever read; its shipped data is overlaid by what lies here (the zoo's measured step
    times and members, a re-shipped experience table)."""
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir as _platform_dir  # lazy: platformdirs; the CLI imports this at start-up

    return Path(_platform_dir("nasoa"))


ENV_THREADS = "NASOA_THREADS"


def available_cores() -> int:
    """The cores this process may use: its CPU affinity, or fewer where an executor gave it fewer
    (``$NASOA_THREADS``, set in a Ray worker to its run's ``--cpus-per-run``)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    given = os.environ.get(ENV_THREADS, "")
    return max(1, min(n, int(given))) if given.isdigit() and int(given) > 0 else n


def run_queue_wait_s() -> float | None:
    """Seconds this process's threads have spent runnable but waiting for a core (Linux's
    ``/proc/self/task/*/schedstat``, second field), summed over its live threads; None where the
    kernel does not report it. The difference over a run, per wall second and thread, is how much
    other work took the cores from it: unlike the CPU time it got, it stays near 0 for a run on
    several threads that simply does not keep them all busy. (psutil does not expose it.)"""
    total, seen = 0, False
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as fh:
                fields = fh.read().split()
            total += int(fields[1])
            seen = True
        except (OSError, IndexError, ValueError):  # a thread that ended meanwhile, or no schedstat
            continue
    return total / 1e9 if seen else None


def cpu_wait_share(wait0: float | None, wall_s: float, threads: int) -> float | None:
    """The share of its thread-time a run spent waiting for a core, since :func:`run_queue_wait_s`
    read ``wait0``: 0 on cores of its own, about 0.5 for one thread sharing its core with another."""
    now = run_queue_wait_s()
    if wait0 is None or now is None or wall_s <= 0:
        return None
    return max(0.0, now - wait0) / wall_s / max(int(threads), 1)


class CpuMeter:
    """What a run got of the machine from :meth:`start` to :meth:`read`: the CPU time it got per
    wall second and thread (``cpu_share``: well below 1 on one thread means it shared its core) and
    the share of its thread-time it waited for a core (``cpu_wait``, :func:`cpu_wait_share`: what
    says so on several threads, which a run alone need not keep busy). One measurement for every
    caller (adapt, collection jobs), so that the time model judges their runs alike."""

    __slots__ = ("cpu0", "wait0", "t0")

    def __init__(self) -> None:
        self.cpu0, self.wait0, self.t0 = time.process_time(), run_queue_wait_s(), time.time()

    def read(self, threads: int, end: float | None = None) -> tuple[float, float | None]:
        """``(cpu_share, cpu_wait)`` from the start to ``end`` (``time.time()``; default now);
        ``cpu_wait`` None where the kernel does not report waits."""
        wall = max((time.time() if end is None else end) - self.t0, 1e-6)
        share = (time.process_time() - self.cpu0) / wall / max(int(threads), 1)
        return share, cpu_wait_share(self.wait0, wall, threads)


def busy_note() -> str:
    """``"; this machine is busy (load average 6.8 on 2 cores)"`` when more runs than it has
    cores (the 1-minute load average over 1.25 per core), else ``""``: why a phase that is quick
    on an idle machine ran out of time."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not Unix
        return ""
    cores = os.cpu_count() or 1
    if load <= 1.25 * cores:
        return ""
    return f"; this machine is busy (load average {load:.1f} on {cores} core{'s' if cores > 1 else ''})"


def other_runnable() -> int | None:
    """How many threads of other work are running or ready to run right now (Linux's
    ``/proc/loadavg`` count of runnable tasks, the least of a few readings 5 ms apart, less the
    reading thread itself); None where the kernel does not say. The 1-minute load average lags a
    minute behind: a second process that started a second ago must count."""
    counts = []
    for i in range(5):
        try:
            with open("/proc/loadavg") as fh:
                counts.append(int(fh.read().split()[3].split("/")[0]))
        except (OSError, IndexError, ValueError):
            return None
        if i < 4:
            time.sleep(0.005)
    return max(0, min(counts) - 1)


_TRAINING_THREADS: dict[int, int] = {}  # cores this process may use -> threads chosen


def training_threads(refresh: bool = False) -> int:
    """The threads this process trains on: every core it may use (:func:`available_cores`), less
    those other work is running on when it is first asked, or asked with ``refresh`` (what a run
    does as it starts: a long-lived process, a stream of adapts, looks again at each run). The same
    number until then, so that the time model plans with the threads the run trains on
    (:mod:`nasoa.meta.timing`); each run records it.

    Why not always every core: nasoa lets OpenMP's idle threads spin briefly between a step's many
    small operators (``GOMP_SPINCOUNT``, set in :mod:`nasoa`), which makes two threads 1.4-2x
    faster than sleeping at once, but two processes that each run two spinning threads on two
    cores slow each other down 1.5x or more (bench/results/threads-20261204/). A process that
    starts while another trains takes the cores left free (one at least); one thread never waits
    for a team."""
    n = available_cores()
    if refresh or n not in _TRAINING_THREADS:
        others = other_runnable() if n > 1 else 0
        # Other work runs on the machine's cores outside this process's share first (another Ray
        # worker, another pinned process); only what is left over competes for its own.
        competing = max(0, (others or 0) - max(0, (os.cpu_count() or n) - n))
        _TRAINING_THREADS[n] = max(1, n - competing)
    return _TRAINING_THREADS[n]


def configure_torch_threads() -> int:
    """Train on :func:`training_threads` threads (torch's default can be lower in containers, and
    higher than what is free)."""
    import torch  # lazy: torch; the CLI imports this module at start-up

    n = training_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def versions() -> dict[str, str]:
    """Versions of the packages whose behaviour shapes a result."""
    from importlib import metadata  # lazy: importlib.metadata (~0.1 s); the CLI imports this module at start-up

    out = {"python": platform.python_version()}
    for pkg in ("nasoa", "torch", "torchvision", "triton", "numpy", "timm", "lightgbm", "river", "polars", "optuna"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def cpu_model() -> str | None:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine() -> dict[str, Any]:
    """Where a number was measured: the platform, CPU, cores and GPU; never the hostname, which
    names the user's machine and would end up in shared manifests and committed results."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": available_cores(),
    }
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def utc_now(timespec: str = "seconds") -> str:
    """The time now in UTC, ISO 8601 (``timespec="milliseconds"`` where rows written in the same
    second must keep their order)."""
    return datetime.now(timezone.utc).isoformat(timespec=timespec)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600 files; results are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n").encode())


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars, paths, sets and tuples."""
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


#: Below this no command can keep its deadline on the reference CPU machine: importing torch alone
#: takes 2.3-4 s there (more when the cores are busy), before any data is read. Checked before the
#: heavy imports so a hopeless budget fails at once instead of late.
MIN_BUDGET_S = 6.0


def check_min_budget(budget_s: float) -> None:
    if budget_s < MIN_BUDGET_S:
        raise NasoaError(
            f"a budget of {budget_s:g}s is too small: start-up, loading, one step, evaluation and saving need "
            f"at least {MIN_BUDGET_S:g}s here; use --budget {MIN_BUDGET_S:g}s or more"
        )


class DeadlineExceeded(NasoaError):
    """A budgeted phase ran past its deadline and was stopped."""


class _DeadlineAlarm(BaseException):
    """What the alarm raises inside a :class:`deadline_guard` block (turned into
    :class:`DeadlineExceeded` at its end): not an Exception, so ``except Exception`` lets it pass."""


class deadline_guard:
    """Interrupt the main thread with :class:`DeadlineExceeded` if ``deadline`` (a ``time.time()``)
    passes inside the block. Used around data loading, which the trainer's own clock cannot stop:
    a budget is a deadline even when the data takes longer to read than expected. Where SIGALRM
    does not exist, or outside the main thread, only :meth:`check` and the block's end enforce it.

    The alarm raises an internal BaseException, which passes through the ``except Exception``
    that libraries put around optional imports (river's imports of sqlalchemy and scipy swallowed a
    plain one, and the block ran seconds past its deadline); it becomes :class:`DeadlineExceeded`
    at the block's end. Should code swallow even that, the block's end raises it, and
    :meth:`check` at a phase boundary raises it as soon as the deadline has passed."""

    def __init__(self, deadline: float, message: str | Callable[[], str]):
        self.deadline = deadline
        self._message = message
        self._old = None
        self.fired = False

    @property
    def message(self) -> str:
        """The refusal; a callable is asked when the deadline passes (it can say what it measured).
        On a busy machine it says so (:func:`busy_note`): why a phase quick when idle ran out of time."""
        return (self._message() if callable(self._message) else self._message) + busy_note()

    def _fire(self, signum, frame):
        self.fired = True
        raise _DeadlineAlarm()

    def check(self) -> None:
        """Raise :class:`DeadlineExceeded` if the deadline has passed (a phase boundary)."""
        if self.fired or time.time() >= self.deadline:
            raise DeadlineExceeded(self.message)

    def __enter__(self) -> "deadline_guard":
        if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
            return self
        left = self.deadline - time.time()
        if left <= 0:
            raise DeadlineExceeded(self.message)
        self._old = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, left)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
            self._old = None
        if exc_type is not None and issubclass(exc_type, _DeadlineAlarm):
            raise DeadlineExceeded(self.message) from None
        if exc_type is None:
            self.check()  # the interruption was swallowed, or could not be delivered: the block ran late
