"""Measured training step time: forward + backward + optimizer step on random data.

The NAS objective and the zoo's ``train_step_ms`` both come from here: the median of repeated
steps after warm-up, at a given batch and input size, per frozen-stage setting, on the machine
where it runs (the search is hardware-aware because of this).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasoa.core.runtime import atomic_write_json, configure_torch_threads, cpu_model, user_data_dir
from nasoa.core.train.loop import _freeze, _set_train_mode


@dataclass(frozen=True)
class StepTime:
    median_ms: float
    iqr_ms: float
    repeats: int
    batch_size: int
    input_size: int
    frozen_stages: int
    device: str
    channels_last: bool


def measure_train_step(
    model,
    batch_size: int = 64,
    input_size: int = 32,
    num_classes: int | None = None,
    frozen_stages: int = 0,
    warmup: int = 3,
    repeats: int = 10,
    device: str = "cpu",
    channels_last: bool = True,
    max_seconds: float | None = None,
    threads: int | None = None,
    cpu_time: bool = False,
) -> StepTime:
    """Median ms of ``repeats`` SGD steps (after ``warmup``) with ``frozen_stages`` frozen.

    ``max_seconds`` stops the repeats early (at least 3 are kept) so a huge candidate cannot eat a
    search budget. ``threads``: torch's thread count for the measurement (restored after); default:
    every core this process may use. ``cpu_time``: time each step by this thread's CPU time instead
    of the wall clock (on one thread, what the step costs whatever else shares the core).
    """
    import torch  # lazy: torch; the search driver imports this module

    before = torch.get_num_threads()
    if threads is None:
        configure_torch_threads()
    else:
        torch.set_num_threads(int(threads))
    try:
        return _measure(model, batch_size, input_size, num_classes, frozen_stages, warmup, repeats, device,
                        channels_last, max_seconds, cpu_time)
    finally:
        if threads is not None:
            torch.set_num_threads(before)


def _measure(model, batch_size, input_size, num_classes, frozen_stages, warmup, repeats, device, channels_last,
             max_seconds, cpu_time=False) -> StepTime:
    import torch  # lazy: torch; the search driver imports this module
    import torch.nn.functional as F  # lazy: torch; the search driver imports this module

    from nasoa.core.cpu_safe import avoid_onednn_crashes  # lazy: torch; the search driver imports this module

    dev = torch.device(device)
    was = {n: p.requires_grad for n, p in model.named_parameters()}
    frozen = _freeze(model, frozen_stages)
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if dev.type == "cpu":
        avoid_onednn_crashes(model)  # strided 1x1 conv backward can crash oneDNN (uxlfoundation/oneDNN#6035)
    _set_train_mode(model, frozen)
    params = [p for p in model.parameters() if p.requires_grad]
    from nasoa.core.optim import SGD  # lazy: torch; the search driver imports this module

    opt = SGD([{"params": params}], lr=1e-3, momentum=0.9, nesterov=True)
    in_ch = getattr(model, "in_chans", 3)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch_size, in_ch, input_size, input_size, generator=gen).to(dev)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    k = num_classes or 10
    y = torch.randint(0, k, (batch_size,), generator=gen).to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times = []
    clock = time.thread_time if cpu_time else time.perf_counter
    t_begin = time.perf_counter()
    for i in range(warmup + repeats):
        sync()
        t = clock()
        out = model(x)
        loss = F.cross_entropy(out[:, :k] if out.shape[1] >= k else out, y % out.shape[1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync()
        if i >= warmup:
            times.append(clock() - t)
        if max_seconds is not None and time.perf_counter() - t_begin > max_seconds and len(times) >= 3:
            break
    for n, p in model.named_parameters():
        p.requires_grad_(was[n])
    q = statistics.quantiles(times, n=4) if len(times) >= 4 else [min(times), 0, max(times)]
    return StepTime(
        median_ms=1000 * statistics.median(times),
        iqr_ms=1000 * (q[2] - q[0]),
        repeats=len(times),
        batch_size=batch_size,
        input_size=input_size,
        frozen_stages=frozen_stages,
        device=str(dev),
        channels_last=channels_last,
    )


# ---- the machine's speed -------------------------------------------------------------------------

#: Seconds a measured speed probe stands for in this process before it is measured again (a
#: command measures once; a collection measures before each run).
PROBE_MAX_AGE_S = 600.0
#: The speed probe's windows and steps per window (:func:`speed_probe_ms`).
PROBE_WINDOWS = 3
PROBE_WINDOW_STEPS = 4
#: The speed a probe reports is the median of this boot's last readings (:func:`speed_probe_ms`):
#: at most this many, none older than this.
PROBE_HISTORY = 9
PROBE_HISTORY_MAX_AGE_S = 24 * 3600.0
PROBE_HISTORY_FILE = "speed-probe.json"
_PROBE_LOCK = threading.Lock()
_PROBE: dict[str, float] = {}


def speed_probe_reading() -> dict[str, float] | None:
    """This process's last probe: the speed reported (``ms``, the recent readings' median), its own
    reading (``raw``) and how many readings the median took (``readings``); None before any."""
    with _PROBE_LOCK:
        return {k: _PROBE[k] for k in ("ms", "raw", "readings") if k in _PROBE} or None


def _boot_id() -> str | None:
    """This boot of this machine (Linux): a probe history never outlives a reboot or crosses to
    another virtual machine, whose speed may differ for the same CPU label."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _recent_readings(now: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(this machine's boot and CPU, its probe history's readings of this boot, none too old)."""
    path = user_data_dir() / PROBE_HISTORY_FILE
    here = {"boot": _boot_id(), "cpu": cpu_model()}
    try:
        data = json.loads(path.read_text())
        past = [r for r in data.get("readings", []) if isinstance(r, dict)] if isinstance(data, dict) else []
    except (OSError, ValueError):
        past = []
    return here, [r for r in past
                  if r.get("boot") == here["boot"] and r.get("cpu") == here["cpu"]
                  and isinstance(r.get("ms"), (int, float)) and isinstance(r.get("at"), (int, float))
                  and 0 <= now - r["at"] <= PROBE_HISTORY_MAX_AGE_S]


def recent_speed_probe_ms() -> float | None:
    """The median of this boot's recent probe readings, measuring nothing (None without one): what a
    run that never measured the probe (common practice's, which plans nothing) records as its
    machine's speed, so that the time model counts it as this machine's."""
    _, readings = _recent_readings(time.time())
    readings = readings[-PROBE_HISTORY:]
    return round(statistics.median(r["ms"] for r in readings), 3) if readings else None


def _probe_history(reading: float, now: float) -> tuple[float, int]:
    """Add ``reading`` to this machine's probe history in the user data dir and return (the median of
    its recent readings, how many). The history is a convenience: an unreadable, corrupt or
    unwritable file is replaced or skipped, and the reading then stands alone."""
    path = user_data_dir() / PROBE_HISTORY_FILE
    here, keep = _recent_readings(now)
    keep = keep[-(PROBE_HISTORY - 1):]
    keep.append({**here, "ms": reading, "at": now})
    try:
        atomic_write_json(path, {"readings": keep})
    except OSError:
        pass
    return round(statistics.median(r["ms"] for r in keep), 3), len(keep)


def speed_probe_ms(*, max_age_s: float = PROBE_MAX_AGE_S, measure: bool = True) -> float | None:
    """This machine's speed: CPU ms per training step of a fixed small CNN (three 3x3 conv + BN +
    ReLU blocks, 24/48/96 channels, batch 32 at 32 px, SGD), on one thread: after 2 warm-up steps,
    the least of the medians of :data:`PROBE_WINDOWS` windows of :data:`PROBE_WINDOW_STEPS` steps
    (about 0.2 s on a 2020s x86 core). Cached for ``max_age_s`` in this process; ``measure=False``
    returns the cached value or None.

    The least window, not one median over every step: a neighbour's burst (another process
    starting up on the other core: imports, a LightGBM fit) slows a core's steps through the shared
    caches and memory even by CPU time; one median of 8 steps read 15-25.6 ms in such bursts against
    13.1-15.9 ms measured per run on the same idle VM (bench/results/adapt-heldout-20261202h/), and
    a burst rarely covers all of three windows. On an idle core the windows agree within a few
    percent, so the value stays comparable with the probes that earlier runs recorded.

    The thread's CPU time, not the wall clock: a probe measured while another process shared the
    core read 2.3x its idle value by the wall clock (34 ms against 14.3 here) and then stood for the
    runs after it, which had the core to themselves; CPU time counts only the probe's own work.

    Every run records it (``extra.speed_probe_ms``) and the time model rescales past runs' step times by
    the ratio of this machine's probe to theirs (:func:`nasoa.meta.timing.calibrate_records`): two
    virtual machines with the same CPU label stepped 1.5-2.2x apart here, and a user's machine is
    not ours. One thread, so the ratio measures a core, not the thread count (the time model has its
    own thread term). Weights, data and torch's random state are untouched by it.

    The value reported is the median of this boot's last :data:`PROBE_HISTORY` readings (kept in
    the user data dir, the newest included), not the reading alone: a neighbour's burst can outlast
    all three windows (a LightGBM fit, a member's transferability pass), and two benches side by
    side on this 2-core VM read 10.9-24.5 ms for the same core within an hour, each reading scaling
    its run's plan (the same regime on the same task was planned 109 and 212 epochs and ran 177 and
    169; bench/results/adapt-heldout-20261203c/). The median of a few readings stands unless most
    of them were caught in bursts, and a real change of speed is followed within a few commands.
    :func:`speed_probe_reading` gives this process's own last reading beside it."""
    now = time.monotonic()
    with _PROBE_LOCK:
        if _PROBE and now - _PROBE["at"] <= max_age_s:
            return _PROBE["ms"]
        if not measure:
            return None
        import torch  # lazy: torch; only a run or a calibration measures
        from torch import nn  # lazy: torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = nn.Sequential(
                nn.Conv2d(3, 24, 3, padding=1, bias=False), nn.BatchNorm2d(24), nn.ReLU(),
                nn.Conv2d(24, 48, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(48), nn.ReLU(),
                nn.Conv2d(48, 96, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(96), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(96, 10))
            windows = [measure_train_step(net, batch_size=32, input_size=32, num_classes=10, warmup=2 if i == 0 else 0,
                                          repeats=PROBE_WINDOW_STEPS, threads=1, cpu_time=True).median_ms
                       for i in range(PROBE_WINDOWS)]
        raw = round(min(windows), 3)
        ms, n = _probe_history(raw, time.time())
        _PROBE.update(ms=ms, raw=raw, readings=n, at=time.monotonic())
        return _PROBE["ms"]
