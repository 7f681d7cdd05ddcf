"""The time model's calibration from measured runs (nasoa.meta.timing) and its use in derive."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import polars as pl
import pytest

from nasoa.core.deadline import margin_s
from nasoa.core.runtime import CpuMeter, cpu_wait_share, run_queue_wait_s
from nasoa.core.runtime import other_runnable as runtime_other
from nasoa.meta.candidates import Grid, enumerate_candidates
from nasoa.meta.descriptors import MemberTable, descriptor
from nasoa.meta.features import TimeModel, _base_row, derive
from nasoa.meta.timing import calibrate_records

ZOO = [
    {"name": "fast", "train_step_ms": {"0": 10.0, "1": 5.0}, "train_step_batch": 64, "input_size": 32},
    {"name": "slow", "train_step_ms": {"0": 100.0, "1": 40.0}, "train_step_batch": 64, "input_size": 32},
]


def _runs(name, frozen, ms, n, threads=2, cpu="X", batch=64):
    return [{"model_name": name, "frozen_stages": frozen, "batch_size": batch, "step_ms": ms, "threads": threads,
             "cpu": cpu}] * n


def _by_name(recs):
    return {r["name"]: r for r in recs}


def test_no_runs_keeps_the_profiled_tables_and_default_overheads():
    recs, info = calibrate_records(ZOO, [], cpu="X", threads=2)
    assert [r["train_step_ms"] for r in recs] == [r["train_step_ms"] for r in ZOO] and info["runs"] == 0
    assert not any(k.startswith("train_setup") or k.startswith("train_eval") for r in recs for k in r)


def test_many_runs_move_a_member_to_its_measured_speed_and_others_by_the_global_factor():
    runs = _runs("slow", 0, 300.0, 60) + _runs("slow", 1, 120.0, 60)  # slow runs 3x its table here
    recs, info = calibrate_records(ZOO, runs, cpu="X", threads=2)
    slow, fast = _by_name(recs)["slow"], _by_name(recs)["fast"]
    assert slow["train_step_ms"]["0"] == pytest.approx(300.0, rel=0.06)
    assert slow["train_step_ms"]["1"] == pytest.approx(120.0, rel=0.06)
    assert slow["profiled_step_ms"] == {"0": 100.0, "1": 40.0}
    # A member never run here moves by the global factor only.
    assert 2.5 < fast["train_step_ms"]["0"] / 10.0 < 3.1 and info["runs"] == 120


def test_one_run_is_evidence_not_the_whole_truth():
    recs, _ = calibrate_records(ZOO, _runs("fast", 0, 40.0, 1), cpu="X", threads=2)
    f = _by_name(recs)["fast"]["train_step_ms"]["0"]
    assert 12.0 < f < 36.0  # the run measured 4x the table: it moves toward it, not all the way


def _step_ms(task: dict, member: dict, regime: dict, budget_s: float) -> float:
    """The step time derive() plans for one regime (a column of candidates, not a learned feature)."""
    import polars as pl

    return float(derive(pl.DataFrame([_base_row(task, member, regime, budget_s)]), TimeModel())["step_ms"][0])


def test_the_batch_exponent_is_learned_and_derive_uses_it():
    # Per-step cost grows as batch**0.7 here (fixed per-step costs), not linearly.
    runs = []
    for b in (16, 32, 64):
        runs += _runs("slow", 0, 100.0 * (b / 64) ** 0.7, 20, batch=b)
        runs += _runs("slow", 1, 40.0 * (b / 64) ** 0.7, 20, batch=b)
    recs, info = calibrate_records(ZOO, runs, cpu="X", threads=2)
    assert info["slopes"]["batch"] == pytest.approx(0.7, abs=0.05)
    slow = _by_name(recs)["slow"]
    assert slow["train_step_batch_exponent"] == pytest.approx(0.7, abs=0.05)
    assert slow["train_step_ms"]["0"] == pytest.approx(100.0, rel=0.05)
    task = {"task_num_train": 640.0, "task_num_val": 0.0}
    d = descriptor(slow)
    at32 = _step_ms(task, d, {"frozen_stages": 0, "batch_size": 32}, 60.0)
    assert at32 == pytest.approx(100.0 * 0.5 ** 0.7, rel=0.06)  # linear would say 50
    # Without calibration the linear default stands (the time model's own default).
    plain = _step_ms(task, descriptor(ZOO[1]), {"frozen_stages": 0, "batch_size": 32}, 60.0)
    assert plain == pytest.approx(50.0)


def test_a_frozen_setting_never_run_moves_with_those_that_were():
    # The profiled table spreads settings further apart than they step here: measured ~ 5 * ref**0.5.
    zoo = [{"name": "m", "train_step_ms": {"0": 100.0, "1": 40.0, "2": 10.0}, "train_step_batch": 64}]
    runs = _runs("m", 0, 50.0, 30) + _runs("m", 1, 5 * 40.0 ** 0.5, 30)
    recs, info = calibrate_records(zoo, runs, cpu="X", threads=2)
    assert info["slopes"]["ref"] < -0.3
    unseen = recs[0]["train_step_ms"]["2"]
    assert 12.0 < unseen < 22.0  # ~15.8 by the compression; the per-member factor alone says 5
    assert recs[0]["train_step_ms"]["0"] == pytest.approx(50.0, rel=0.05)


def test_outlying_runs_barely_move_a_member():
    rng = np.random.default_rng(0)
    runs = [dict(r, step_ms=200.0 * math.exp(rng.normal(0, 0.05))) for r in _runs("slow", 0, 0.0, 30)]
    runs += _runs("slow", 0, 2000.0, 2)  # two runs under heavy load
    recs, _ = calibrate_records(ZOO, runs, cpu="X", threads=2)
    assert 190.0 < _by_name(recs)["slow"]["train_step_ms"]["0"] < 212.0  # a plain mean of logs says ~225


def test_other_machines_and_contended_runs_are_ignored_other_thread_counts_scaled():
    contended = [dict(r, cpu_share=0.4) for r in _runs("slow", 0, 300.0, 50)]
    recs, info = calibrate_records(ZOO, _runs("slow", 0, 300.0, 50, cpu="Y") + contended, cpu="X", threads=2)
    assert info["runs"] == 0 and _by_name(recs)["slow"]["train_step_ms"]["0"] == 100.0
    # Runs on one thread say how fast two threads are, through the thread prior (threads**-0.7).
    recs, info = calibrate_records(ZOO, _runs("slow", 0, 300.0, 50, threads=1), cpu="X", threads=2)
    assert _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(300.0 * 2 ** -0.7, rel=0.06)
    recs, _ = calibrate_records(ZOO, _runs("slow", 0, 300.0, 50, threads=1), cpu="X", threads=1)
    assert _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(300.0, rel=0.06)


def test_runs_at_two_thread_counts_teach_what_a_second_thread_is_worth():
    # Every member measured a second thread as 1.33x faster (slope log2(0.75) = -0.415), not the
    # prior's 1.62x: the slope moves to it, and a member that ran on one thread only follows it.
    zoo = ZOO + [{"name": "unseen", "train_step_ms": {"0": 50.0}, "train_step_batch": 64, "input_size": 32}]
    runs = (_runs("fast", 0, 20.0, 40, threads=1) + _runs("fast", 0, 15.0, 40, threads=2)
            + _runs("slow", 0, 100.0, 40, threads=1) + _runs("slow", 0, 75.0, 40, threads=2)
            + _runs("unseen", 0, 50.0, 40, threads=1))
    recs, info = calibrate_records(zoo, runs, cpu="X", threads=2)
    assert -0.5 < info["slopes"]["threads"] < -0.35
    assert _by_name(recs)["fast"]["train_step_ms"]["0"] == pytest.approx(15.0, rel=0.05)
    assert _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(75.0, rel=0.05)
    assert _by_name(recs)["unseen"]["train_step_ms"]["0"] == pytest.approx(37.5, rel=0.08)  # the prior: 30.8


def test_runs_that_recorded_their_wait_for_a_core_are_judged_by_it_not_by_their_cpu_share():
    # A run on two threads that got 0.68 of a core per thread on an idle machine (a step's serial
    # parts leave the other thread idle) but never waited for a core measured the machine: it enters.
    idle_two = [dict(r, cpu_share=0.68, cpu_wait=0.01) for r in _runs("slow", 0, 300.0, 30)]
    recs, info = calibrate_records(ZOO, idle_two, cpu="X", threads=2)
    assert info["runs"] == 30 and _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(300.0, rel=0.06)
    # Runs whose threads waited for a core a third of the time shared it: left out, whatever their share.
    waited = [dict(r, cpu_share=0.95, cpu_wait=0.35) for r in _runs("slow", 0, 900.0, 30)]
    recs, info = calibrate_records(ZOO, idle_two + waited, cpu="X", threads=2)
    assert info["runs"] == 30 and _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(300.0, rel=0.06)
    # Without the wait recorded (runs before it was), the share still decides.
    recs, info = calibrate_records(ZOO, [dict(r, cpu_wait=None) for r in idle_two], cpu="X", threads=2)
    assert info["runs"] == 0


def test_a_probe_rescales_runs_from_a_slower_machine_with_the_same_cpu_label():
    # Runs on a machine twice as slow as this one (probe 30 ms there, 15 ms here), same CPU label:
    # without the probe the plan would be twice too slow here.
    runs = [dict(r, speed_probe_ms=30.0) for r in _runs("slow", 0, 300.0, 40) + _runs("slow", 1, 120.0, 40)]
    recs, info = calibrate_records(ZOO, runs, cpu="X", threads=2, speed_probe=15.0)
    slow = _by_name(recs)["slow"]
    assert slow["train_step_ms"]["0"] == pytest.approx(150.0, rel=0.06)
    assert slow["train_step_ms"]["1"] == pytest.approx(60.0, rel=0.06)
    assert info["speed_by"] == "probe" and info["probed_runs"] == 80 and info["runs"] == 80
    # Without this machine's probe the label decides, unscaled (what older callers got).
    recs, info = calibrate_records(ZOO, runs, cpu="X", threads=2)
    assert _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(300.0, rel=0.06)
    assert info["speed_by"] == "cpu"


def test_runs_on_this_machine_correct_a_member_the_probe_misjudges():
    """The probe says this machine is as fast as the one the experience ran on, but "slow" steps 1.5x
    slower here (a member whose kind of layers this CPU runs worse): a few runs here bring its plan
    most of the way; the other member, never run here, moves by the machine's part of it only, and
    not at all once its own runs here say it steps as the probe said; runs from a machine with this
    label but another speed are not this machine's."""
    there = [dict(r, speed_probe_ms=20.0)
             for r in _runs("slow", 0, 200.0, 80, cpu="Y") + _runs("fast", 0, 8.0, 80, cpu="Y")]

    def here(n, ms=300.0, probe=20.0, cpu="X"):
        return [dict(r, speed_probe_ms=probe) for r in _runs("slow", 0, ms, n, cpu=cpu)]

    planned = {}
    for n in (0, 4, 20):
        recs, info = calibrate_records(ZOO, here(n) + there, cpu="X", threads=2, speed_probe=20.0)
        planned[n] = _by_name(recs)["slow"]["train_step_ms"]["0"]
        assert info["here"]["runs"] == n
        fast = _by_name(recs)["fast"]["train_step_ms"]["0"]
        assert 8.0 * 0.98 <= fast <= 8.0 * (1.0 + 0.8 * (planned[n] / 200.0 - 1.0)) + 0.01, (n, fast, planned[n])
    assert planned[0] == pytest.approx(200.0, rel=0.05)
    fast_here = [dict(r, speed_probe_ms=20.0) for r in _runs("fast", 0, 8.0, 20)]
    recs, _ = calibrate_records(ZOO, here(20) + fast_here + there, cpu="X", threads=2, speed_probe=20.0)
    assert _by_name(recs)["fast"]["train_step_ms"]["0"] == pytest.approx(8.0, rel=0.05)
    assert _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(300.0, rel=0.1)
    assert 250.0 < planned[4] < 285.0  # the machine's and the member's offsets each take half: 3/4 of the way
    assert planned[20] == pytest.approx(300.0, rel=0.08)
    # Another VM with this label but a probe 2x off is not this machine; nor is another label.
    for other in (here(20, ms=600.0, probe=40.0), here(20, cpu="Z")):
        recs, info = calibrate_records(ZOO, other + there, cpu="X", threads=2, speed_probe=20.0)
        assert info["here"]["runs"] == 0
    # Where the experience is this machine's own, its offset is the fit's: nothing moves.
    recs, info = calibrate_records(ZOO, here(80, ms=200.0), cpu="X", threads=2, speed_probe=20.0)
    assert info["here"]["runs"] == 80 and info["here"]["factor"] == pytest.approx(1.0, abs=0.01)
    assert _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(200.0, rel=0.02)


def test_a_calibration_here_corrects_the_plan_before_any_run_here():
    """`nasoa zoo calibrate` puts measurements on the member records: the time model counts them as
    this machine's runs, each as CALIBRATION_WEIGHT of them, so two measurements bring a misjudged
    member most of the way with no run here; they teach no overheads, and a calibration from another
    machine (another probe) is not this one's."""
    from nasoa.meta.timing import CALIBRATION_WEIGHT

    there = [dict(r, speed_probe_ms=20.0, budget_s=30.0, steps=100, num_val=50, stop_reason="planned")
             for r in _runs("slow", 0, 200.0, 80, cpu="Y") + _runs("fast", 0, 8.0, 80, cpu="Y")]
    cal = [{"frozen_stages": 0, "batch_size": 64, "input_size": 32, "threads": 2, "step_ms": 300.0,
            "cpu": "X", "speed_probe_ms": 20.0, "gpu": None}] * 2
    zoo = [dict(r, calibration=cal) if r["name"] == "slow" else r for r in ZOO]
    plain, info0 = calibrate_records(ZOO, there, cpu="X", threads=2, speed_probe=20.0)
    recs, info = calibrate_records(zoo, there, cpu="X", threads=2, speed_probe=20.0)
    assert _by_name(plain)["slow"]["train_step_ms"]["0"] == pytest.approx(200.0, rel=0.05)
    assert info["here"] == {**info["here"], "runs": 0, "calibration": 2}
    assert info["runs"] == info0["runs"] == 160 and info["calibration"] == 2
    # 2 x 4 run-weights against 4 pseudo-runs for the machine and the member: 8/9 of the way.
    assert CALIBRATION_WEIGHT == 4.0
    assert 280.0 < _by_name(recs)["slow"]["train_step_ms"]["0"] < 300.0
    # A calibration only stepped: it teaches no overheads (it moves them only through the forward pass's
    # share of a step, which its step times calibrate).
    assert info["overhead_runs"] == info0["overhead_runs"]
    assert info["overhead"]["setup_by_member"] == pytest.approx(info0["overhead"]["setup_by_member"], rel=1e-3)
    assert info["overhead"]["eval_factor"] == pytest.approx(info0["overhead"]["eval_factor"], rel=1e-3)
    elsewhere = [dict(c, speed_probe_ms=40.0) for c in cal]
    recs, info = calibrate_records([dict(r, calibration=elsewhere) if r["name"] == "slow" else r for r in ZOO],
                                   there, cpu="X", threads=2, speed_probe=20.0)
    assert info["here"]["calibration"] == 0


def test_this_machine_s_offsets_come_from_its_own_thread_count_unscaled_by_its_probe():
    """What a second thread is worth differs by member, so only measurements here at this process's
    thread count set this machine's offsets; they are not rescaled by the probe (two readings here
    differ by its noise); and a member whose measurements all depart from the others' is corrected,
    not weighed down as an outlier."""
    there = [dict(r, speed_probe_ms=20.0)
             for r in _runs("slow", 0, 200.0, 80, cpu="Y") + _runs("fast", 0, 8.0, 80, cpu="Y")]

    def cal(ms, threads=1, probe=20.0):
        return [{"frozen_stages": 0, "batch_size": 64, "input_size": 32, "threads": threads, "step_ms": ms,
                 "cpu": "X", "speed_probe_ms": probe}] * 2

    def plan(slow_cal, fast_cal, probe=20.0):
        zoo = [dict(ZOO[0], calibration=fast_cal), dict(ZOO[1], calibration=slow_cal)]
        recs, info = calibrate_records(zoo, there, cpu="X", threads=1, speed_probe=probe)
        return _by_name(recs)["slow"]["train_step_ms"]["0"], _by_name(recs)["fast"]["train_step_ms"]["0"], info
    # Run threads 2 in `there` against 1 here: the fit's thread slope (at its prior) plans 200 * 2**0.7.
    base, _, _ = plan([], [])
    # "slow" steps 1.5x its plan here, "fast" as planned: "slow" moves most of the way, "fast" barely.
    slow, fast, info = plan(cal(1.5 * base), cal(8.0 * 2 ** 0.7))
    assert info["here"]["calibration"] == 4
    assert 1.35 * base < slow < 1.5 * base and fast == pytest.approx(8.0 * 2 ** 0.7, rel=0.1)
    # The same measurements at two threads, where this process plans for one, are not this machine's.
    _, _, info = plan(cal(1.5 * base, threads=2), cal(8.0 * 2 ** 0.7, threads=2))
    assert info["here"]["calibration"] == 0
    # A probe reading 10% slower this time (22 ms, within the band) rescales the runs from elsewhere but
    # not those from here: with enough of them the plan stays what they measured.
    many = [dict(c) for c in cal(1.5 * base)] * 8
    slow_now, _, _ = plan(many, cal(8.0 * 2 ** 0.7) * 8)
    slow_noisy, _, _ = plan(many, cal(8.0 * 2 ** 0.7) * 8, probe=22.0)
    assert slow_noisy == pytest.approx(slow_now, rel=0.03) and slow_now == pytest.approx(1.5 * base, rel=0.05)


def test_this_machine_s_runs_at_another_thread_count_correct_a_first_plan_by_the_machine_s_part_only():
    """The shipped runs of this kind of machine all ran on one thread; a user's first command trains on two.
    The speed probe misjudges the machine (every member steps 1.5x what it says, on one thread), so those
    runs move the two-thread plan by the machine's factor: both members alike (a second thread helps
    members unequally, so no member's own offset comes from them), none counted as a run at this thread
    count; without them nothing moves."""
    there = [dict(r, speed_probe_ms=20.0) for r in
             _runs("slow", 0, 200.0, 80, cpu="Y") + _runs("fast", 0, 8.0, 80, cpu="Y")
             + _runs("slow", 0, 200.0 * 2 ** 0.7, 80, cpu="Y", threads=1)
             + _runs("fast", 0, 8.0 * 2 ** 0.7, 80, cpu="Y", threads=1)]
    one_thread_here = [dict(r, speed_probe_ms=20.0) for r in
                       _runs("slow", 0, 1.5 * 200.0 * 2 ** 0.7, 20, threads=1)
                       + _runs("fast", 0, 1.5 * 8.0 * 2 ** 0.7, 20, threads=1)]
    recs, info = calibrate_records(ZOO, there, cpu="X", threads=2, speed_probe=20.0)
    assert _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(200.0, rel=0.02)
    assert info["here"]["other_threads"] == 0 and info["here"]["factor"] == 1.0
    recs, info = calibrate_records(ZOO, one_thread_here + there, cpu="X", threads=2, speed_probe=20.0)
    slow, fast = _by_name(recs)["slow"]["train_step_ms"]["0"], _by_name(recs)["fast"]["train_step_ms"]["0"]
    assert 1.3 * 200.0 < slow < 1.5 * 200.0 and fast / 8.0 == pytest.approx(slow / 200.0, rel=0.02)
    assert info["here"] == {**info["here"], "runs": 0, "other_threads": 40, "by_member": {}}
    # A run here at this thread count is weighed against that offset, not against none.
    two = [dict(r, speed_probe_ms=20.0) for r in _runs("slow", 0, 1.4 * 200.0, 1)]
    recs, info = calibrate_records(ZOO, two + one_thread_here + there, cpu="X", threads=2, speed_probe=20.0)
    assert info["here"]["runs"] == 1 and 1.3 * 200.0 < _by_name(recs)["slow"]["train_step_ms"]["0"] < 1.5 * 200.0


def test_with_probes_runs_from_other_cpus_enter_and_unprobed_ones_teach_relative_speeds():
    probed = [dict(r, speed_probe_ms=10.0) for r in _runs("slow", 0, 200.0, 30, cpu="Y")]  # another CPU, probed
    unknown = _runs("slow", 0, 900.0, 60)  # this CPU's label, speed unknown (runs before probes)
    recs, info = calibrate_records(ZOO, probed + unknown, cpu="X", threads=2, speed_probe=20.0)
    assert _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(400.0, rel=0.06)
    assert info["runs"] == 90 and info["slopes"]["unprobed"] == pytest.approx(math.log(900 / 400), abs=0.06)
    # A member run only where the speed was unknown keeps its speed relative to the others: those
    # runs stepped "fast" at 0.05x "slow"; here "slow" steps at 400, so "fast" at about 20.
    unknown_fast = _runs("fast", 0, 45.0, 60)
    recs, _ = calibrate_records(ZOO, probed + unknown + unknown_fast, cpu="X", threads=2, speed_probe=20.0)
    assert _by_name(recs)["fast"]["train_step_ms"]["0"] == pytest.approx(20.0, rel=0.1)
    # Unprobed runs from another CPU stay out.
    _, info = calibrate_records(ZOO, probed + _runs("slow", 0, 900.0, 60, cpu="Z"), cpu="X", threads=2,
                                speed_probe=20.0)
    assert info["runs"] == 30
    # Too few probed runs to stand on: the label decides, the probed run from another CPU stays out.
    recs, info = calibrate_records(ZOO, probed[:5] + unknown, cpu="X", threads=2, speed_probe=20.0)
    assert _by_name(recs)["slow"]["train_step_ms"]["0"] == pytest.approx(900.0, rel=0.06)
    assert info["speed_by"] == "cpu" and info["runs"] == 60
    # A broken probe (zero, NaN, text) counts as none; an absurd ratio is clipped, not trusted.
    bad = [dict(r, speed_probe_ms=v) for r, v in zip(_runs("slow", 0, 200.0, 3), (0.0, float("nan"), "x"))]
    _, info = calibrate_records(ZOO, bad + probed, cpu="X", threads=2, speed_probe=20.0)
    assert info["probed_runs"] == 30 and info["runs"] == 33
    # A probe measures the CPU: runs on a machine with a GPU are not rescaled by it on one without.
    on_gpu = [dict(r, gpu="H200") for r in probed]
    _, info = calibrate_records(ZOO, on_gpu + probed, cpu="X", threads=2, speed_probe=20.0)
    assert info["probed_runs"] == 30 and info["runs"] == 30
    _, info = calibrate_records(ZOO, on_gpu + probed, cpu="X", threads=2, speed_probe=20.0, gpu="H200")
    assert info["probed_runs"] == 30 and info["runs"] == 30
    wild = [dict(r, speed_probe_ms=1e-4) for r in _runs("slow", 0, 200.0, 30)]
    recs, _ = calibrate_records(ZOO, wild, cpu="X", threads=2, speed_probe=20.0)
    assert _by_name(recs)["slow"]["train_step_ms"]["0"] < 200.0 * 8.0 * 1.06


def test_the_overheads_are_read_in_each_run_s_own_seconds():
    # A probed run's set-up, evaluation and step excess are learned from its own step time, not the
    # rescaled one: the same runs give the same overheads whatever this machine's probe says.
    rng = np.random.default_rng(3)
    runs = [dict(r, speed_probe_ms=10.0) for r in _trainer_runs(rng, {"fast": 2.0, "slow": 2.0}, 0.5, 0.05)]
    _, a = calibrate_records(ZOO, runs, cpu="X", threads=2, speed_probe=10.0)
    _, b = calibrate_records(ZOO, runs, cpu="X", threads=2, speed_probe=25.0)
    # (to within how this machine's offsets move the calibrated forward pass's share of a step: read in
    # rescaled seconds, they would move 2.5x)
    assert a["overhead"]["setup_s"] == pytest.approx(b["overhead"]["setup_s"], rel=1e-2)
    assert a["overhead"]["eval_factor"] == pytest.approx(b["overhead"]["eval_factor"], rel=1e-2)
    assert b["global_factor"] == pytest.approx(2.5 * a["global_factor"], rel=0.02)


def _trainer_runs(rng, setup, eval_factor, excess, n=80, stop_steps=0.0):
    """Runs as the trainer spends a budget: steps fill what set-up, evaluation and margin leave,
    at a mean step ``excess`` above the median one. Evaluating is a forward pass: it costs what a
    step with every stage frozen does (frozen 1 here), whatever the run's own frozen stages."""
    runs = []
    for i in range(n):
        name = ("fast", "slow")[i % 2]
        frozen = int(rng.integers(0, 2))
        size = int(rng.choice([32, 32, 64]))  # above the profiled 32 px a step costs the square of the side
        noise = math.exp(rng.normal(0, 0.02)) * (size / 32) ** 2
        ms = ZOO[i % 2]["train_step_ms"][str(frozen)] * 2.0 * noise
        forward_ms = ZOO[i % 2]["train_step_ms"]["1"] * 2.0 * noise
        budget = float(rng.choice([8.0, 15.0, 30.0, 60.0, 120.0]))
        n_val = float(rng.choice([60.0, 250.0, 1000.0]))
        window = (budget - margin_s(budget) - setup[name] - eval_factor * n_val * forward_ms / 64 / 1000
                  - stop_steps * ms / 1000)
        steps = int(window / (ms * (1 + excess) / 1000))
        runs.append({**_runs(name, frozen, ms, 1)[0], "budget_s": budget, "steps": steps, "num_val": n_val,
                     "stop_reason": "deadline", "num_train": 640.0, "input_size": size})
    return runs


def test_overheads_are_learned_per_member_and_planned_epochs_match_the_trainer():
    rng = np.random.default_rng(0)
    setup = {"fast": 0.4, "slow": 2.5}  # a big member with weights to load pays more before its first step
    runs = _trainer_runs(rng, setup, eval_factor=1.2, excess=0.04, stop_steps=3.0)
    recs, info = calibrate_records(ZOO, runs, cpu="X", threads=2)
    over = info["overhead"]
    assert over["eval_factor"] == pytest.approx(1.2, abs=0.15)
    assert over["step_excess"] == pytest.approx(0.04, abs=0.015)
    assert over["stop_steps"] == pytest.approx(3.5, abs=0.4)  # and half a step lost to whole steps on average
    assert over["setup_by_member"]["slow"] == pytest.approx(2.5, abs=0.3)
    assert over["setup_by_member"]["fast"] == pytest.approx(0.4, abs=0.3)
    # The candidates (vectorised) plan what a run with the same inputs actually ran.
    members = MemberTable(recs)
    task = {"task_num_train": 640.0, "task_num_val": 250.0}
    grid = Grid(lrs=(0.01,), schedules=("cosine",), optimizers=("sgd",))
    frame = enumerate_candidates(members, task, 30.0, grid, TimeModel(), feasible_only=False)
    for row in frame.iter_rows(named=True):
        name, frozen = row["model_name"], row["frozen_stages"]
        ms = ZOO[name == "slow"]["train_step_ms"][str(frozen)] * 2.0
        forward_ms = ZOO[name == "slow"]["train_step_ms"]["1"] * 2.0
        window = 30.0 - margin_s(30.0) - setup[name] - 1.2 * 250.0 * forward_ms / 64 / 1000 - 3.0 * ms / 1000
        actual = window / (ms * 1.04 / 1000) / 10.0  # 10 steps per epoch
        assert row["planned_epochs"] == pytest.approx(actual, rel=0.1), (name, frozen)
        assert row["step_ms"] == pytest.approx(ms, rel=0.05)  # the median step, as stored runs measure it
    # The uncalibrated model, with its fixed set-up and linear batch, plans the big member too many.
    plain = enumerate_candidates(MemberTable(ZOO), task, 30.0, grid, TimeModel(), feasible_only=False)
    assert plain.filter(plain["model_name"] == "slow")["planned_epochs"].min() > 1.5 * frame.filter(
        frame["model_name"] == "slow")["planned_epochs"].min()


def test_evaluation_is_priced_at_a_forward_pass_whatever_the_run_freezes():
    """A run with every stage frozen steps at about a forward pass, one that trains every stage at about
    three: the final evaluation costs the same forward pass in both (priced at the run's own step, the
    frozen candidates' evaluation looked cheap and plans at 128 px ran 22% long)."""
    from nasoa.meta.descriptors import forward_ratio

    assert forward_ratio({"0": 300.0, "2": 150.0, "4": 100.0}, 0) == pytest.approx(1 / 3)
    assert forward_ratio({"0": 300.0, "2": 150.0, "4": 100.0}, 4) == pytest.approx(1.0)
    assert forward_ratio({"0": 300.0, "4": 100.0}, 3) == pytest.approx(1.0)  # the nearest setting profiled
    assert forward_ratio({}, 2) == 1.0
    recs = [dict(ZOO[1], train_eval_factor=1.0, train_setup_s=0.0, train_step_excess=0.0, train_stop_steps=0.0)]
    task = {"task_num_train": 640.0, "task_num_val": 2000.0}
    grid = Grid(lrs=(0.01,), schedules=("cosine",), optimizers=("sgd",))
    frame = enumerate_candidates(MemberTable(recs), task, 30.0, grid, TimeModel(), feasible_only=False)
    plans = {row["frozen_stages"]: row["planned_epochs"] for row in frame.iter_rows(named=True)}
    evaluation = 2000.0 * 40.0 / 64 / 1000  # the validation images at the step with every stage frozen
    for frozen, ms in ((0, 100.0), (1, 40.0)):
        assert plans[frozen] == pytest.approx((30.0 - margin_s(30.0) - evaluation) / (10 * ms / 1000), rel=0.02)


def test_a_time_model_saved_before_the_forward_pass_pricing_keeps_its_terms_but_not_its_eval_factor():
    """The shipped model's time model (saved 2026-12-05) priced evaluation at 0.35 of the run's own step:
    read as a forward pass's factor, its evaluations would look 6x cheaper than runs measured."""
    from nasoa.meta.features import EVAL_FACTOR

    old = {"setup_s": 1.5, "eval_factor": 0.35, "batch_exponent": 1.0, "size_exponent": 2.0, "step_excess": 0.0,
           "margin_s": 0.4, "margin_frac": 0.015, "min_epochs": 1.0, "machine_factor": 1.0}
    tm = TimeModel.from_dict(old)
    assert tm.eval_factor == EVAL_FACTOR and tm.setup_s == 1.5 and tm.margin_s == 0.4
    now = TimeModel.from_dict(TimeModel(eval_factor=1.7).to_dict())
    assert now.eval_factor == 1.7 and now.stop_steps == TimeModel().stop_steps


def test_runs_that_stopped_early_or_ran_on_other_threads_teach_no_overheads():
    rng = np.random.default_rng(1)
    runs = _trainer_runs(rng, {"fast": 0.5, "slow": 0.5}, eval_factor=0.5, excess=0.0, n=20)
    capped = [dict(r, stop_reason="epochs", steps=r["steps"] // 10) for r in runs]  # an epochs cap: budget unspent
    _, info = calibrate_records(ZOO, runs + capped, cpu="X", threads=2)
    assert info["overhead_runs"] == 20 and info["runs"] == 40
    _, info = calibrate_records(ZOO, [dict(r, threads=1) for r in runs], cpu="X", threads=2)
    assert info["overhead_runs"] == 0 and info["overhead"] is None


def test_what_adapt_spent_before_its_member_is_not_learned_as_the_members_set_up():
    """An adapt run spends seconds loading and scoring before the chosen member is prepared
    (``choice_s``): the overheads are learned from the budget left then, so the members' set-up
    stays what it is (counting it in made three concurrent 15 s adapts refuse as 'too small')."""
    rng = np.random.default_rng(2)
    setup = {"fast": 0.4, "slow": 0.6}
    adapt_runs = []
    for r in _trainer_runs(rng, setup, eval_factor=0.5, excess=0.0, n=40):
        spent = float(rng.uniform(3.0, 8.0))  # loading and scoring, before the time model's plan
        budget = r["budget_s"] + spent
        adapt_runs.append(dict(r, budget_s=budget, choice_s=spent))
    _, info = calibrate_records(ZOO, adapt_runs, cpu="X", threads=2)
    assert info["overhead"]["setup_by_member"]["fast"] == pytest.approx(0.4, abs=0.3)
    assert info["overhead"]["setup_by_member"]["slow"] == pytest.approx(0.6, abs=0.3)
    # Without choice_s (what runs recorded before), the same runs teach a set-up of seconds.
    _, blind = calibrate_records(ZOO, [{k: v for k, v in r.items() if k != "choice_s"} for r in adapt_runs],
                                 cpu="X", threads=2)
    assert blind["overhead"]["setup_by_member"]["fast"] > 2.0
    # What adapt keeps free after training (``reserve_s``, its post-training reserve) is left out the
    # same way: adapt plans over the budget less that reserve.
    reserved = [dict(r, budget_s=r["budget_s"] + 1.5, reserve_s=1.5) for r in adapt_runs]
    _, info = calibrate_records(ZOO, reserved, cpu="X", threads=2)
    assert info["overhead"]["setup_by_member"]["fast"] == pytest.approx(0.4, abs=0.3)
    _, blind = calibrate_records(ZOO, [{k: v for k, v in r.items() if k != "reserve_s"} for r in reserved],
                                 cpu="X", threads=2)
    assert blind["overhead"]["setup_by_member"]["fast"] > 1.2


def test_store_timings_read_runs_whose_json_holds_nan(tmp_path):
    """Python writes NaN into JSON (a diverged run's loss); the timings query must still read."""
    from nasoa.meta.store import ExperienceStore, RunRecord

    st = ExperienceStore(tmp_path / "s.sqlite")
    for i, loss in enumerate((float("nan"), 0.5)):
        st.append(RunRecord(task_id="t", task_spec="x", task_features={"task_num_val": 40.0}, model_name="fast",
                            regime={"frozen_stages": 1}, budget_s=10.0, val_accuracy=0.5, stop_reason="planned",
                            extra={"step_ms": 7.0 + i, "batch_size": 64, "threads": 2, "val_loss": loss, "steps": 100,
                                   "input_size": 32, "machine": {"cpu": "X"}, "speed_probe_ms": 12.5}))
    st.append(RunRecord(task_id="t", task_spec="x", task_features={}, model_name="fast", regime={}, budget_s=1.0,
                        val_accuracy=0.5))  # no measurement: left out
    rows = st.timings()
    assert [r["step_ms"] for r in rows] == [8.0, 7.0] and rows[0] == {
        "model_name": "fast", "frozen_stages": 1, "batch_size": 64, "step_ms": 8.0, "threads": 2, "cpu": "X",
        "cpu_share": None, "cpu_wait": None, "input_size": 32, "budget_s": 10.0, "choice_s": 0.0, "reserve_s": 0.0,
        "steps": 100, "stop_reason": "planned", "num_val": 40.0, "transfer": None, "speed_probe_ms": 12.5, "gpu": None}
    assert len(st.timings(limit=1)) == 0  # the most recent run has no measurement


def _sized_zoo():
    return [
        {"name": "small", "train_step_ms": {"0": 20.0, "1": 10.0}, "train_step_batch": 64, "input_size": 32,
         "num_stages": 1, "source_accuracy": 0.9},
        {"name": "wide", "train_step_ms": {"0": 200.0, "1": 80.0}, "train_step_batch": 64, "input_size": 64,
         "num_stages": 1, "source_accuracy": 0.7},
    ]


def test_offered_tells_the_runs_adapt_could_pick_from_those_outside_the_grid():
    """meta eval reads the decisions among the regimes the grid offers apart: every candidate the
    grid enumerates is offered; a wide member below its profiled side only where the grid lists
    that side, a rate, frozen setting, optimizer or member outside the grid never."""
    import polars as pl

    from nasoa.meta.candidates import offered

    task = {"task_num_train": 640.0, "task_num_val": 160.0, "task_image_size": 32.0}
    members = MemberTable(_sized_zoo())
    cands = enumerate_candidates(members, task, 60.0, Grid(), TimeModel())
    assert offered(cands, members, Grid()).all()
    sized = enumerate_candidates(members, task, 60.0, Grid(input_sizes=(32,)), TimeModel())
    below = sized.filter((pl.col("model_name") == "wide") & (pl.col("model_input_size") == 32.0))
    assert below.height > 0 and not offered(below, members, Grid()).any()
    assert offered(below, members, Grid(input_sizes=(32,))).all()
    row = cands.filter(pl.col("model_name") == "wide").head(1)
    for change in ({"lr_log10": math.log10(0.02)}, {"frozen_stages": 5}, {"optimizer": "lion"},
                   {"model_name": "gone"}, {"model_input_size": 48.0}):
        bad = row.with_columns(*(pl.lit(v).alias(k) for k, v in change.items()))
        assert not offered(bad, members, Grid()).any(), change
    assert offered(row, members, Grid(lrs=tuple(row["lr"].to_list()))).all()
    assert not offered(row, members, Grid(lrs=(0.5,))).any() and offered(row.head(0), members, Grid()).size == 0


def test_the_input_side_is_a_regime_dimension_up_to_the_profiled_side():
    """Grid(input_sizes): a member may run at the listed sides up to the one it was profiled at; the
    time model scales its step time by (side / profiled) ** size_exponent, so a 64 px member at 32 px
    plans about 4x the epochs. Without input_sizes the grid is what it was: one side per member."""
    task = {"task_num_train": 640.0, "task_num_val": 160.0, "task_image_size": 32.0}
    members = MemberTable(_sized_zoo())
    plain = enumerate_candidates(members, task, 60.0, Grid(), TimeModel())
    sized = enumerate_candidates(members, task, 60.0, Grid(input_sizes=(16, 32, 48)), TimeModel())
    assert plain.height == 2 * 2 * 16 and set(zip(plain["model_name"], plain["input_size"])) == {("small", 32.0),
                                                                                                  ("wide", 64.0)}
    sides = {m: sorted(set(sized.filter(sized["model_name"] == m)["input_size"])) for m in ("small", "wide")}
    assert sides == {"small": [16.0, 32.0], "wide": [16.0, 32.0, 48.0]}  # never above the profiled side
    assert (sized["model_input_size"] == sized["input_size"]).all()

    def row(frame, m, side):
        f = frame.filter((frame["model_name"] == m) & (frame["input_size"] == side) & (frame["frozen_stages"] == 0))
        return f.row(0, named=True)

    at64, at32 = row(plain, "wide", 64.0), row(sized, "wide", 32.0)
    assert at32["step_ms"] == pytest.approx(at64["step_ms"] / 4)
    assert at32["planned_epochs"] == pytest.approx(4 * at64["planned_epochs"], rel=0.15)
    # A calibrated member carries its own exponent (learned from runs at several sides).
    recs = [dict(r, train_step_size_exponent=1.5) for r in _sized_zoo()]
    cal = enumerate_candidates(MemberTable(recs), task, 60.0, Grid(input_sizes=(32,)), TimeModel())
    assert row(cal, "wide", 32.0)["step_ms"] == pytest.approx(at64["step_ms"] * 0.5 ** 1.5)
    # The grid's dict is unchanged without input_sizes (a resumed collection compares it).
    assert "input_sizes" not in Grid().to_dict()
    assert Grid.from_dict(Grid(input_sizes=(32,)).to_dict()).input_sizes == (32,)


def test_a_member_pretrained_at_a_larger_side_may_run_above_its_profiled_one():
    """A record's max_input_size (the ImageNet members: the 224 px they were pretrained at) lets a grid's
    input_sizes run the member above the side it was profiled at, at the step time the time model scales
    up (x (side / profiled) ** 2: about 4x at twice the side); a member without one stays at or below its
    profiled side, and max_input_size is no feature of the member (the side a run trains at is)."""
    from nasoa.meta.descriptors import descriptor

    task = {"task_num_train": 640.0, "task_num_val": 160.0, "task_image_size": 128.0}
    recs = [dict(r, max_input_size=224) if r["name"] == "wide" else r for r in _sized_zoo()]
    members = MemberTable(recs)
    grid = Grid(input_sizes=(32, 64, 96, 128, 256))
    sized = enumerate_candidates(members, task, 600.0, grid, TimeModel())
    sides = {m: sorted(set(sized.filter(sized["model_name"] == m)["input_size"])) for m in ("small", "wide")}
    assert sides == {"small": [32.0], "wide": [32.0, 64.0, 96.0, 128.0]}
    plain = enumerate_candidates(MemberTable(_sized_zoo()), task, 600.0, grid, TimeModel())
    assert sorted(set(plain.filter(plain["model_name"] == "wide")["input_size"])) == [32.0, 64.0]

    def step(frame, side):
        f = frame.filter((frame["model_name"] == "wide") & (frame["input_size"] == side))
        return f.filter(f["frozen_stages"] == 0)["step_ms"][0]

    assert step(sized, 128.0) == pytest.approx(4 * step(sized, 64.0))
    assert step(sized, 96.0) == pytest.approx(2.25 * step(sized, 64.0))
    # An exponent calibrated at and below the profiled side (fixed costs: about 1.1 on 2 CPU cores) is kept
    # there, and not extrapolated above it, where the step grows at least with the pixels.
    cal = enumerate_candidates(MemberTable([dict(r, train_step_size_exponent=1.1) for r in recs]), task, 600.0,
                               grid, TimeModel())
    assert step(cal, 32.0) == pytest.approx(step(cal, 64.0) * 0.5 ** 1.1)
    assert step(cal, 128.0) == pytest.approx(4 * step(cal, 64.0))
    assert not any("max_input_size" in k for k in descriptor(recs[1]) if not k.startswith("_"))
    assert Grid().to_dict() == Grid.from_dict(Grid().to_dict()).to_dict()


def test_a_side_above_the_profiled_one_comes_only_up_to_the_task_images_side():
    """Upsampling past the pixels a task holds adds steps and no information: a member pretrained at a
    larger side is offered above its profiled side only up to the task's image side; at and below the
    profiled side nothing changes (a 32 px task still runs a 64 px member at 64 and, where listed, 32)."""
    recs = [dict(r, max_input_size=224) if r["name"] == "wide" else r for r in _sized_zoo()]
    grid = Grid(input_sizes=(32, 64, 96, 128))

    def sides(image_size):
        task = {"task_num_train": 640.0, "task_num_val": 160.0}
        if image_size is not None:
            task["task_image_size"] = image_size
        f = enumerate_candidates(MemberTable(recs), task, 600.0, grid, TimeModel())
        return {m: sorted(set(f.filter(f["model_name"] == m)["input_size"])) for m in ("small", "wide")}

    assert sides(32.0) == {"small": [32.0], "wide": [32.0, 64.0]}
    assert sides(64.0) == sides(32.0)
    assert sides(100.0) == {"small": [32.0], "wide": [32.0, 64.0, 96.0]}
    assert sides(128.0)["wide"] == [32.0, 64.0, 96.0, 128.0]
    assert sides(None)["wide"] == [32.0, 64.0, 96.0, 128.0]  # a task without the feature: the grid as listed


def test_the_size_slope_is_learned_from_runs_at_several_sides():
    zoo = _sized_zoo()
    runs = []
    for side in (32, 48, 64):
        runs += [dict(r, input_size=side) for r in _runs("wide", 0, 200.0 * (side / 64) ** 1.6, 20)]
    recs, info = calibrate_records(zoo, runs, cpu="X", threads=2)
    assert info["slopes"]["size"] == pytest.approx(1.6, abs=0.15)
    assert _by_name(recs)["wide"]["train_step_size_exponent"] == pytest.approx(1.6, abs=0.15)


def _planned_step(rec, frozen, batch, side):
    row = _base_row({"task_num_train": 2000.0, "task_num_val": 200.0}, descriptor(rec),
                    {"frozen_stages": frozen, "batch_size": batch}, 60.0, input_size=side)
    return derive(pl.DataFrame([row]), TimeModel())["step_ms"][0]


def test_steps_above_the_profiled_side_by_setting_and_batch_follow_what_runs_measured():
    """A step is a fixed part plus the pixels' compute: below the profiled side the fixed part flattens the
    side's slope, above it the compute steepens it (beyond the square where the caches overflow), a small
    batch saves less where the fixed part weighs, and a setting whose fixed part is smaller (every stage
    frozen) steepens most. One power law per member planned MobileNetV2 at 128 px 10-25% off by setting
    (bench/results/time-model-20261207/)."""
    fixed = {0: 120.0, 1: 10.0}  # ms per step at any side and batch: the optimiser, the per-step bookkeeping
    per = {0: 4.0, 1: 2.5}  # ms per image at the profiled 64 px

    def truth(frozen, batch, side):
        return fixed[frozen] + per[frozen] * batch * (side / 64) ** 2.5

    rec = {"name": "wide", "train_step_ms": {str(f): truth(f, 64, 64) for f in (0, 1)}, "train_step_batch": 64,
           "input_size": 64, "num_stages": 1}
    runs = [dict(r, input_size=side) for side in (32, 48, 64, 96, 128) for batch in (16, 64) for frozen in (0, 1)
            for r in _runs("wide", frozen, truth(frozen, batch, side), 6, batch=batch)]
    recs, info = calibrate_records([rec], runs, cpu="X", threads=2)
    assert info["slopes"]["size_above"] > 0.2 and info["slopes"]["batch_size"] > 0.1
    exps = recs[0]["train_step_size_exponents"]
    assert exps["1"] > exps["0"] + 0.2  # every stage frozen: the compute weighs more, the side more
    for frozen, batch, side in ((0, 64, 128), (1, 64, 128), (1, 16, 128), (0, 16, 96), (1, 64, 96), (0, 64, 32)):
        assert _planned_step(recs[0], frozen, batch, side) == pytest.approx(truth(frozen, batch, side), rel=0.12), (
            frozen, batch, side)


def test_a_stored_run_keeps_the_side_it_ran_at():
    """The training frame takes a run's side from its record (extra.input_size), not from the zoo's
    descriptor that replaces its model features; without its epochs, they are planned from the step
    time it measured (not a learned feature since format 2: the machine's, not the regime's)."""
    from nasoa.meta.features import training_frame

    wide = descriptor(_sized_zoo()[1])
    run = {"task_id": "t", "task_spec": "builtin:digits", "model_name": "wide", "budget_s": 30.0, "val_accuracy": 0.5,
           "task_features": {"task_num_train": 640.0, "task_num_val": 160.0}, "model_features": wide,
           "regime": {"lr": 0.01, "frozen_stages": 0, "batch_size": 64},
           "extra": {"input_size": 32, "step_ms_at_input_size": 55.0, "epochs": 20.0}}
    frame = training_frame([run], TimeModel(), {"wide": wide})
    assert frame["model_input_size"][0] == 32.0 and frame["planned_epochs"][0] == 20.0
    assert "step_ms" not in frame.columns
    timed = [dict(run, extra={"input_size": 32, "step_ms": ms}) for ms in (55.0, 110.0)]
    fast, slow = training_frame(timed, TimeModel(), {"wide": wide})["planned_epochs"].to_list()
    assert 1.8 < fast / slow < 2.2  # half the measured step, about twice the epochs
    frame = training_frame([dict(run, extra={"epochs": 5.0})], TimeModel(), {"wide": wide})
    assert frame["model_input_size"][0] == 64.0 and frame["planned_epochs"][0] == 5.0


def test_scoring_costs_measured_by_adapt_runs_set_each_members_per_image_cost():
    """What `nasoa adapt`'s set-up measured scoring each member (extra.transfer) becomes the member's
    per-image cost once two runs measured it; one run is not enough, and other CPUs do not count."""
    def run(member, seconds, images=300, cpu="X"):
        return {"model_name": "fast", "frozen_stages": 0, "batch_size": 64, "step_ms": 10.0, "threads": 2, "cpu": cpu,
                "transfer": {"images": images, "s": {member: seconds}}}

    recs, _ = calibrate_records(ZOO, [run("slow", 0.9), run("slow", 1.2, images=200), run("fast", 0.6),
                                      run("fast", 0.6, cpu="Y")], cpu="X", threads=2)
    slow, fast = _by_name(recs)["slow"], _by_name(recs)["fast"]
    assert slow["transfer_image_ms"] == pytest.approx(((0.6 / 300) + (0.9 / 200)) / 2 * 1000)
    assert "transfer_image_ms" not in fast  # one run of it on this CPU
    from types import SimpleNamespace

    from nasoa.app.setup_budget import TRANSFER_MEMBER_S, transfer_cost_s

    mm = SimpleNamespace(members=MemberTable(recs), time_model=TimeModel())
    assert transfer_cost_s(mm, "slow", 100) == pytest.approx(TRANSFER_MEMBER_S + 100 * slow["transfer_image_ms"] / 1000)
    # Unmeasured: a forward pass (the step with every stage frozen) x the eval factor, not the full step.
    forward = fast["train_step_ms"]["1"]
    assert forward < 0.6 * fast["train_step_ms"]["0"]
    assert transfer_cost_s(mm, "fast", 100) == pytest.approx(
        TRANSFER_MEMBER_S + 100 * forward / 64 / 1000 * TimeModel().eval_factor)


def test_the_speed_probe_is_cached_and_leaves_torch_as_it_found_it():
    import torch

    from nasoa.core import profile

    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    profile._PROBE.clear()
    assert profile.speed_probe_ms(measure=False) is None  # nothing measured yet: no value made up
    ms = profile.speed_probe_ms()
    assert 0 < ms < 1000 and torch.get_num_threads() == threads
    assert torch.equal(torch.rand(3), expected)  # the caller's random stream is not consumed
    assert profile.speed_probe_ms() == ms and profile.speed_probe_ms(measure=False) == ms  # cached
    again = profile.speed_probe_ms(max_age_s=0.0)  # too old: measured again
    assert 0 < again < 1000 and profile._PROBE["ms"] == again


def test_the_speed_probe_takes_the_least_window_so_a_neighbour_s_burst_does_not_stand(monkeypatch, tmp_path):
    """A burst on the other core slows some of the probe's steps: the least of its windows stands."""
    from nasoa.core import profile

    calls = []
    readings = iter([31.0, 14.2, 15.0])  # the first window caught a burst

    def fake(net, **kw):
        calls.append(kw)
        return profile.StepTime(median_ms=next(readings), iqr_ms=0.0, repeats=kw["repeats"], batch_size=32,
                                input_size=32, frozen_stages=0, device="cpu", channels_last=True)

    monkeypatch.setenv("NASOA_DATA_DIR", str(tmp_path))  # no earlier readings
    monkeypatch.setattr(profile, "measure_train_step", fake)
    monkeypatch.setattr(profile, "_PROBE", {})
    assert profile.speed_probe_ms(max_age_s=0.0) == 14.2
    assert len(calls) == profile.PROBE_WINDOWS
    assert [c["warmup"] for c in calls] == [2, 0, 0]  # warmed up once, then windows back to back
    assert all(c["threads"] == 1 and c["cpu_time"] for c in calls)


def test_the_speed_probe_reports_the_median_of_this_boot_s_recent_readings(monkeypatch, tmp_path):
    """A burst that outlasts every window stands for one reading, not for the speed the next plan
    uses: the probe reports the median of this boot's recent readings, kept in the user data dir;
    readings of another boot or CPU, too old, or beyond the history's length do not count, and a
    corrupt history file is replaced, never an error."""
    from nasoa.core import profile

    monkeypatch.setenv("NASOA_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(profile, "_boot_id", lambda: "boot-a")
    monkeypatch.setattr(profile, "cpu_model", lambda: "cpu-x")
    readings = iter([])

    def fake(net, **kw):
        return profile.StepTime(median_ms=next(readings), iqr_ms=0.0, repeats=kw["repeats"], batch_size=32,
                                input_size=32, frozen_stages=0, device="cpu", channels_last=True)

    monkeypatch.setattr(profile, "measure_train_step", fake)

    def probe(ms: float) -> float:
        nonlocal readings
        readings = iter([ms] * profile.PROBE_WINDOWS)
        return profile.speed_probe_ms(max_age_s=0.0)

    history = tmp_path / profile.PROBE_HISTORY_FILE
    history.write_text("{not json")  # corrupt: replaced by the first reading
    assert probe(15.0) == 15.0
    assert probe(14.0) == 14.5
    assert probe(24.5) == 15.0  # a burst: one reading of three, the median stands
    assert profile._PROBE["raw"] == 24.5 and profile._PROBE["readings"] == 3
    assert probe(14.6) == pytest.approx(14.8)
    # A reboot (or another VM with the same CPU label) starts a new history.
    monkeypatch.setattr(profile, "_boot_id", lambda: "boot-b")
    assert profile.recent_speed_probe_ms() is None  # nothing of this boot yet, and nothing measured
    assert probe(30.0) == 30.0
    assert probe(31.0) == 30.5
    # What a run that measured no probe (practice) records: this boot's readings, nothing measured.
    readings = iter([])
    assert profile.recent_speed_probe_ms() == 30.5
    # A real, lasting change of speed takes over within a few readings; the history stays bounded.
    for _ in range(profile.PROBE_HISTORY):
        last = probe(20.0)
    assert last == 20.0
    kept = json.loads(history.read_text())["readings"]
    assert len(kept) == profile.PROBE_HISTORY and {r["boot"] for r in kept} == {"boot-b"}
    # Readings older than the history's age do not count.
    old = [{**r, "at": r["at"] - profile.PROBE_HISTORY_MAX_AGE_S - 10} for r in kept]
    history.write_text(json.dumps({"readings": old}))
    assert probe(12.0) == 12.0
    # An unwritable history: the reading stands alone, no error.
    history.unlink()
    history.mkdir()
    assert probe(13.0) == 13.0


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or run_queue_wait_s() is None,
                    reason="the kernel does not report run-queue waits")
def test_the_cpu_meter_tells_a_core_shared_with_another_process_from_an_idle_one_and_from_a_sleeping_run():
    def burn(seconds):
        meter, t0 = CpuMeter(), time.time()
        while time.time() - t0 < seconds:
            sum(range(1000))
        return meter.read(1)

    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    try:
        alone = burn(0.6)
        meter = CpuMeter()
        time.sleep(0.4)
        asleep = meter.read(1)
        spin = f"import os,time; os.sched_setaffinity(0, {{{core}}}); t=time.time()\nwhile time.time()-t < 5: pass"
        rival = subprocess.Popen([sys.executable, "-c", spin])
        try:
            time.sleep(0.2)
            shared = burn(1.0)
        finally:
            rival.kill()
            rival.wait()
    finally:
        os.sched_setaffinity(0, before)
    assert alone[1] < 0.2 and alone[0] > 0.6  # its core to itself: no wait, busy all along
    assert asleep[0] < 0.2 and asleep[1] < 0.2  # idle, not held back: neither CPU nor wait
    assert shared[1] > 0.3 and shared[0] < 0.75  # about 0.5 each: the two take turns on the core
    # the meter's wait is cpu_wait_share's reading over the same span
    wait0, t0 = run_queue_wait_s(), time.time()
    m = CpuMeter()
    time.sleep(0.05)
    end = time.time()
    assert m.read(1, end=end)[1] == pytest.approx(cpu_wait_share(wait0, end - t0, 1), abs=0.05)


def test_a_run_trains_on_the_cores_other_work_leaves_free_and_keeps_that_number_until_it_looks_again(monkeypatch):
    from nasoa.core import runtime

    monkeypatch.setattr(runtime, "_TRAINING_THREADS", {})
    others = {"n": 0}
    monkeypatch.setattr(runtime, "other_runnable", lambda: others["n"])
    monkeypatch.setattr(runtime, "available_cores", lambda: 2)
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 2)
    assert runtime.training_threads(refresh=True) == 2  # an idle machine: both cores
    others["n"] = 1  # another adapt started: it keeps its plan's thread count until the next run looks
    assert runtime.training_threads() == 2
    assert runtime.training_threads(refresh=True) == 1
    others["n"] = 5
    assert runtime.training_threads(refresh=True) == 1  # never fewer than one
    # Two cores of four (a Ray worker's share, a pinned process): the other work runs on the other two.
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 4)
    others["n"] = 2
    assert runtime.training_threads(refresh=True) == 2
    others["n"] = 3
    assert runtime.training_threads(refresh=True) == 1
    others["n"] = None  # the kernel does not say: every core
    assert runtime.training_threads(refresh=True) == 2
    import torch

    before = torch.get_num_threads()
    try:
        assert runtime.configure_torch_threads() == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_other_runnable_counts_a_busy_process_beside_this_one():
    if runtime_other() is None:
        pytest.skip("the kernel does not report runnable tasks")
    rival = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t < 4: pass"])
    try:
        time.sleep(0.3)
        assert runtime_other() >= 1
    finally:
        rival.kill()
        rival.wait()
