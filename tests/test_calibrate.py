"""Temperature scaling: the fit, the calibration error, what a run records and what predict does with it."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from conftest import ENC
from nasoa.core.train.calibrate import (MAX_FIT_IMAGES, PRIOR_SIGMA, T_MAX, T_MIN, calibration,
                                        confidence_error, expected_calibration_error, fit_temperature)

runner = CliRunner()


def _gaussian_task(n: int, classes: int, shift: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features z ~ N(shift * onehot(y), I): the posterior is exactly softmax(shift * z), so the
    logits ``z`` are calibrated at temperature 1 / shift."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    z = torch.randn(n, classes, generator=g)
    z[torch.arange(n), y] += shift
    return z, y


def _objective(z, y, t: float) -> float:
    return float(F.cross_entropy(z.double() / t, y, reduction="sum")) + math.log(t) ** 2 / (2 * PRIOR_SIGMA ** 2)


@pytest.mark.parametrize("scale", [1 / 3, 1.0, 3.0])
def test_the_fit_recovers_the_temperature_that_calibrates(scale):
    """Logits of a known posterior, sharpened or flattened by ``scale``: the fitted temperature undoes
    it (3,000 images: the prior moves it by well under 5%)."""
    z, y = _gaussian_task(3000, 10, 3.0, seed=0)
    t = fit_temperature(3.0 * scale * z, y)
    assert t == pytest.approx(scale, rel=0.05)


def test_the_fit_is_the_objectives_minimum():
    """The bisection lands on the penalised NLL's minimum: no temperature on a fine grid does better."""
    z, y = _gaussian_task(400, 5, 2.0, seed=1)
    t = fit_temperature(z, y)
    grid = [math.exp(u / 200) for u in range(-600, 601)]
    best = min(grid, key=lambda g: _objective(z, y, g))
    assert _objective(z, y, t) <= _objective(z, y, best) + 1e-9
    assert t == pytest.approx(best, rel=0.01)


def test_a_split_without_errors_keeps_a_finite_temperature():
    """Every validation image right: the plain NLL fit would drive T to 0 (every probability to 1);
    the prior stops it inside the bounds, sharpening only moderately."""
    z, y = _gaussian_task(40, 4, 6.0, seed=2)
    assert bool((z.argmax(1) == y).all())
    t = fit_temperature(z, y)
    assert T_MIN < t < 1.0 and t > 0.2
    assert fit_temperature(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)) == 1.0
    z[0, 1] = float("nan")
    assert fit_temperature(z, y) == 1.0  # a NaN logit: nothing to fit, the probabilities stay as they are
    # Logits that say nothing and a prior-free fit pinned to a bound stay inside [T_MIN, T_MAX].
    z, y = _gaussian_task(2000, 4, 0.0, seed=3)
    assert fit_temperature(z * 50, y) <= T_MAX and fit_temperature(z * 50, y, prior_sigma=1e6) == T_MAX


def test_expected_calibration_error_on_known_cases():
    """Top-label ECE: confidence 0.8 with 80% right is calibrated; 0.9 with all right is 0.1 off;
    two bins weigh by their images."""
    conf = torch.full((10,), 0.8, dtype=torch.float64)
    right = torch.tensor([1.0] * 8 + [0.0] * 2, dtype=torch.float64)
    assert confidence_error(conf, right) == pytest.approx(0.0, abs=1e-12)
    assert confidence_error(torch.full((4,), 0.9, dtype=torch.float64), torch.ones(4, dtype=torch.float64)) == \
        pytest.approx(0.1)
    conf = torch.tensor([0.95] * 3 + [0.55] * 1, dtype=torch.float64)
    right = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    assert confidence_error(conf, right) == pytest.approx(0.75 * 0.05 + 0.25 * 0.55)
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8]], dtype=torch.float64)  # top 0.9 right, top 0.8 wrong
    assert expected_calibration_error(probs, torch.tensor([0, 0])) == pytest.approx(0.5 * 0.1 + 0.5 * 0.8)
    assert math.isnan(expected_calibration_error(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)))


def test_calibration_records_before_and_after_and_fits_a_sample_of_large_splits():
    """The record: the NLL with the temperature is never above the NLL without it (the fit minimises
    NLL plus a prior that is 0 at T = 1); over-confident logits get T > 1 and a lower ECE; a split
    larger than MAX_FIT_IMAGES is fitted on an evenly spaced sample and scored on all of it."""
    z, y = _gaussian_task(2 * MAX_FIT_IMAGES + 10, 6, 2.0, seed=4)
    rec = calibration(6.0 * z, y)  # three times too sharp
    assert rec["images"] == len(y) and rec["temperature"] == pytest.approx(3.0, rel=0.08)
    assert rec["nll"][1] < rec["nll"][0] and rec["ece"][1] < rec["ece"][0] / 3
    every = 3  # 4,010 images, at most 2,000 fitted: every third one
    assert rec["temperature"] == pytest.approx(fit_temperature(6.0 * z[::every], y[::every]), abs=1e-5)
    assert rec["nll"][0] == pytest.approx(float(F.cross_entropy(6.0 * z.double(), y)), abs=1e-5)


def _tiny_run(tmp_path, name: str = "run"):
    from nasoa.cli.main import app

    run = tmp_path / name
    r = runner.invoke(app, ["train", "builtin:digits?per_class=30&val_per_class=10", "-m", ENC, "--scratch",
                            "--budget", "30s", "--epochs", "3", "--size", "16", "--lr", "0.05", "--out", str(run),
                            "--json"])
    assert r.exit_code == 0, r.output
    return app, run, json.loads(r.stdout)


def test_a_run_records_its_calibration_and_predict_marks_the_unsure(tmp_path, capsys):
    """A run records the temperature fitted on its validation split (in --json and the manifest) and
    the time it took; `predict --min-confidence` marks the images below it and counts what a
    threshold keeps; a run recorded before calibration existed predicts with temperature 1."""
    from nasoa.app.predict import load_run, predict

    app, run, out = _tiny_run(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    cal = manifest["result"]["calibration"]
    assert out["calibration"] == cal and cal["images"] == manifest["task"]["num_val"] == 100
    assert cal["nll"][1] <= cal["nll"][0] and T_MIN <= cal["temperature"] <= T_MAX
    assert 0 <= manifest["result"]["timings"]["calibrate"] < 1.0
    assert load_run(run)[2]["temperature"] == cal["temperature"]
    from nasoa.cli._options import print_result

    capsys.readouterr()
    print_result(out)
    assert (f"probabilities calibrated on the 100 validation images: temperature {cal['temperature']:.3g} (NLL "
            f"{cal['nll'][0]:.3f} -> {cal['nll'][1]:.3f}); predict and export apply it") in capsys.readouterr().out

    val = tmp_path / "val"
    r = runner.invoke(app, ["data", "export", "builtin:digits?per_class=30&val_per_class=10", str(val)])
    assert r.exit_code == 0, r.output
    preds = predict(run, [val / "val"], top_k=10)
    cut = sorted(p.probability for p in preds)[len(preds) // 2]  # half the images are below it
    r = runner.invoke(app, ["predict", str(run), str(val / "val"), "--min-confidence", str(cut), "--json"])
    rows = json.loads(r.stdout)
    assert [x["sure"] for x in rows] == [p.probability >= cut for p in preds]
    kept = [p for p in preds if p.probability >= cut]
    r = runner.invoke(app, ["predict", str(run), str(val / "val"), "--min-confidence", str(cut)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert sum(line.endswith("\tunsure") for line in lines) == len(preds) - len(kept)
    right = sum(p.label == p.folder_class for p in kept)
    assert lines[-1] == (f"at --min-confidence {cut:g}: {len(kept)} of {len(preds)} images labelled "
                         f"({len(kept) / len(preds):.1%}), accuracy {right / len(kept):.4f} on them; "
                         f"{len(preds) - len(kept)} unsure, left for review")
    assert "calibration error (ECE)" in lines[-2]

    del manifest["result"]["calibration"]  # as runs were written before 2026-12-06
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert load_run(run)[2]["temperature"] == 1.0
    assert [p.probability for p in predict(run, [val / "val"])] == pytest.approx(
        [p.probability for p in predict(run, [val / "val"], calibrated=False)], abs=0)


def test_tta_averages_the_mirror_image_and_is_refused_where_mirroring_changes_the_class(tmp_path):
    """`predict --tta`: each image's probabilities are the mean of its own and its mirror image's,
    through the same input path; the manifest records whether the run trained with flips, and a run
    that did not (digits) refuses --tta in predict and export with a one-line error."""
    from nasoa.app.predict import load_run, predict, probabilities
    from nasoa.cli.main import app
    from nasoa.core.data import load_images

    run = tmp_path / "animal"
    r = runner.invoke(app, ["train", "builtin:animal?classes=0,1,2&per_class=20&val_per_class=8", "-m", ENC,
                            "--scratch", "--budget", "30s", "--epochs", "2", "--size", "16", "--out", str(run)])
    assert r.exit_code == 0, r.output
    model, classes, spec = load_run(run)
    assert spec["hflip"] is True
    data = tmp_path / "animal-data"
    assert runner.invoke(app, ["data", "export", "builtin:animal?classes=0,1,2&per_class=20&val_per_class=8",
                               str(data)]).exit_code == 0
    plain = predict(run, [data / "val"], top_k=3)
    tta = predict(run, [data / "val"], top_k=3, tta=True)
    files = [p.path for p in plain]
    assert [p.path for p in tta] == files
    x = load_images(files, spec["image_format"], size=16)
    model.to(memory_format=torch.channels_last)
    want = (probabilities(model, spec, x) + probabilities(model, spec, x.flip(3))) / 2
    got = torch.tensor([[dict(p.top)[c] for c in classes] for p in tta])
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(got, probabilities(model, spec, x), atol=1e-3)  # the mirror image counted
    r = runner.invoke(app, ["predict", str(run), str(data / "val"), "--tta", "--json", "--top", "3"])
    assert [x["probability"] for x in json.loads(r.stdout)] == pytest.approx([p.probability for p in tta], abs=1e-7)

    _, digits, _ = _tiny_run(tmp_path, "digits")
    assert load_run(digits)[2]["hflip"] is False
    for args in (["predict", str(digits), str(data / "val"), "--tta"], ["export", str(digits), "--tta"]):
        r = runner.invoke(app, args)
        assert r.exit_code != 0 and "trained without horizontal flips" in r.output and "Traceback" not in r.output
    assert not (digits / "export").exists()
