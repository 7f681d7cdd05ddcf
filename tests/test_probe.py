"""Probe planning (nasoa.app.probe): when adapt tries its top candidates before committing."""

from __future__ import annotations

import pytest

from nasoa.core.errors import NasoaError
from nasoa.app.probe import pick_winner, plan_probe

TOP = [{"model_name": "a", "min_budget_s": 3.0}, {"model_name": "a", "min_budget_s": 2.0},
       {"model_name": "b", "min_budget_s": 4.0}, {"model_name": "c", "min_budget_s": 12.0},
       {"model_name": "d", "min_budget_s": 1.0}]
NOVEL = {"score": 2.5}
FAMILIAR = {"score": 0.4}


def test_familiar_tasks_and_never_keep_the_one_shot_pick():
    assert plan_probe(TOP, FAMILIAR, 100.0) is None
    assert plan_probe(TOP, {"score": None}, 100.0) is None
    assert plan_probe(TOP, NOVEL, 100.0, mode="never") is None
    with pytest.raises(NasoaError, match="unknown --probe"):
        plan_probe(TOP, NOVEL, 100.0, mode="sometimes")


def test_novel_task_probes_the_best_regime_of_distinct_members_within_a_fraction():
    plan = plan_probe(TOP, NOVEL, 300.0)
    assert [c["model_name"] for c in plan.candidates] == ["a", "b", "c"]
    assert plan.candidates[0]["min_budget_s"] == 3.0  # a's best-ranked regime, not its later one
    assert plan.probe_s == pytest.approx(30.0) and "novelty 2.50" in plan.reason
    assert plan_probe(TOP, FAMILIAR, 300.0, mode="always").probe_s == pytest.approx(30.0)


def test_candidates_that_cannot_fit_an_epoch_in_their_slice_are_dropped():
    plan = plan_probe(TOP, NOVEL, 80.0)  # slices of 8 s: c needs 2 x 12 s
    assert [c["model_name"] for c in plan.candidates] == ["a", "b"] and plan.skipped == ["c"]
    assert plan.probe_s == pytest.approx(12.0)
    assert plan_probe(TOP, NOVEL, 30.0) is None  # 4.5 s slices hold two epochs of neither a (3 s) nor b (4 s)
    quick = [{"model_name": m, "min_budget_s": 1.5} for m in "abc"]
    plan = plan_probe(quick, NOVEL, 27.0)  # a 30 s budget after set-up: two 4 s slices of quick members
    assert [c["model_name"] for c in plan.candidates] == ["a", "b"] and plan.probe_s == pytest.approx(4.05)
    plan = plan_probe(quick, NOVEL, 20.0)  # two 4 s slices take 40% of what is left: the most two may take
    assert [c["model_name"] for c in plan.candidates] == ["a", "b"] and plan.probe_s == pytest.approx(4.0)
    assert plan_probe(quick, NOVEL, 19.0) is None  # 3.8 s slices: too short to tell regimes apart: one shot


def test_the_first_ranked_candidate_is_always_among_the_probes():
    slow_first = [{"model_name": "a", "min_budget_s": 2.2}, {"model_name": "b", "min_budget_s": 1.5},
                  {"model_name": "c", "min_budget_s": 1.2}]
    plan = plan_probe(slow_first, NOVEL, 27.0)  # a needs 4.4 s slices: two of them fit in 40% of 27 s
    assert [c["model_name"] for c in plan.candidates] == ["a", "b"] and plan.probe_s == pytest.approx(4.4)
    assert plan.skipped == []  # b and c are quick: c goes because three slices do not fit, not for speed
    assert plan_probe(slow_first, NOVEL, 21.0) is None  # 2 x 4.4 s > 40% of 21 s: a cannot be probed
    three = plan_probe(slow_first, NOVEL, 60.0)  # 3 x 6 s within 30% of 60 s
    assert [c["model_name"] for c in three.candidates] == ["a", "b", "c"] and three.probe_s == pytest.approx(6.0)


def test_the_best_probe_goes_on_and_a_one_image_lead_is_a_tie_for_the_better_ranked():
    assert pick_winner([0.70, 0.92], 100) == 1
    assert pick_winner([0.78, 0.84], 50) == 1  # three images of 50
    assert pick_winner([71 / 78, 72 / 78], 78) == 0  # one image of 78: a tie, the ranking decides
    assert pick_winner([1.0, 1.0, 1.0], 50) == 0 and pick_winner([0.9], 10) == 0
    assert pick_winner([0.98, 1.0], 50) == 0 and pick_winner([0.96, 1.0], 50) == 1
    assert pick_winner([0.5, 0.9, 0.92], 50) == 1  # the third leads the second by one image only
    assert pick_winner([0.5, 0.6, 0.9], 40) == 2
    assert pick_winner([float("nan"), 0.3], 40) == 1  # a diverged first probe counts as 0
    with pytest.raises(ValueError):
        pick_winner([], 10)
