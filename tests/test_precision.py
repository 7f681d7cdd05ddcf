"""Mixed-precision training steps (`nasoa train --precision`): what is refused, what autocast runs in
16 bits, what a run records, and that the saved model stays fp32."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from nasoa.core.errors import NasoaError
from nasoa.core.train import Regime, finetune
from nasoa.core.train import precision as P

from conftest import ENC, tiny_net

runner = CliRunner()


def test_names_are_checked_against_the_device(monkeypatch):
    assert P.resolve_precision("fp32", "cpu").name == "fp32"
    assert P.resolve_precision("BFloat16", "cpu").name == "bf16"
    with pytest.raises(NasoaError, match="unknown --precision 'fp8'"):
        P.resolve_precision("fp8", "cpu")
    with pytest.raises(NasoaError, match="fp16 needs a CUDA GPU"):
        P.resolve_precision("fp16", "cpu")
    warned: list[str] = []
    monkeypatch.setattr(P, "cpu_has_native_bf16", lambda: False)
    assert P.resolve_precision("bf16", "cpu", warn=warned.append).name == "bf16"
    assert len(warned) == 1 and "emulated" in warned[0]
    monkeypatch.setattr(P, "cpu_has_native_bf16", lambda: True)
    warned.clear()
    P.resolve_precision("bf16", "cpu", warn=warned.append)
    P.resolve_precision("fp32", "cpu", warn=warned.append)
    assert warned == []


def test_autocast_runs_convolutions_in_bf16_and_fp32_is_untouched():
    conv = torch.nn.Conv2d(3, 4, 3)
    x = torch.randn(2, 3, 8, 8)
    with P.resolve_precision("bf16", "cpu").autocast():
        assert conv(x).dtype == torch.bfloat16
    with P.resolve_precision("fp32", "cpu").autocast():
        assert conv(x).dtype == torch.float32


def test_the_loss_scaler_scales_and_steps():
    """fp16's path (a CUDA GPU in use) through the scaler, exercised with the CPU's GradScaler."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 2)
    before = lin.weight.detach().clone()
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    prec = P.Precision("fp16", "cpu", torch.amp.GradScaler("cpu", init_scale=1024.0))
    loss = torch.nn.functional.cross_entropy(lin(torch.randn(8, 4)), torch.randint(0, 2, (8,)))
    prec.backward_and_step(loss, opt)
    assert not torch.equal(before, lin.weight)  # the unscaled gradient was applied
    assert prec.describe() == {"name": "fp16", "device": "cpu", "loss_scale": 1024.0}
    # an overflowing gradient skips the step and halves the scale
    w = lin.weight.detach().clone()
    loss = lin(torch.full((1, 4), float("inf"))).sum()
    prec.backward_and_step(loss, opt)
    assert torch.equal(w, lin.weight) and prec.describe()["loss_scale"] == 512.0


def test_a_bf16_run_learns_records_it_and_saves_fp32_weights(digits, tmp_path):
    """Same seed, same steps: bf16 changes the arithmetic (the weights differ from fp32's), learns as
    well, records its precision, and saves an fp32 model whose evaluation is fp32's."""
    regime = Regime(lr=0.05, epochs=10, batch_size=32)
    runs = {}
    for name in ("fp32", "bf16"):
        res = finetune(tiny_net(digits), digits, regime, 60.0, seed=0, run_dir=tmp_path / name, progress=False,
                       precision=name)
        runs[name] = res
        assert res.stop_reason == "epochs" and res.precision["name"] == name
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        assert manifest["result"]["precision"] == {"name": name, "device": "cpu", "loss_scale": None}
    assert runs["fp32"].steps == runs["bf16"].steps
    w32, w16 = load_file(tmp_path / "fp32" / "model.safetensors"), load_file(tmp_path / "bf16" / "model.safetensors")
    assert all(t.dtype == torch.float32 for t in w16.values() if t.is_floating_point())
    assert any(not torch.equal(w32[k], w16[k]) for k in w32 if w32[k].is_floating_point())
    # 10 classes, chance 0.1: fp32 reads 0.68 and bf16 0.82 here (bf16 is another draw of the same run)
    assert runs["bf16"].val_accuracy > 0.4 and runs["fp32"].val_accuracy > 0.4


def test_cli_train_precision(tmp_path):
    from nasoa.cli.main import app

    r = runner.invoke(app, ["train", "builtin:digits?per_class=30&val_per_class=10", "-m", ENC, "--scratch",
                            "--budget", "30s", "--epochs", "2", "--size", "16", "--precision", "bf16",
                            "--out", str(tmp_path / "run"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["precision"] == "bf16"
    r = runner.invoke(app, ["train", "builtin:digits?per_class=30&val_per_class=10", "-m", ENC, "--scratch",
                            "--budget", "30s", "--epochs", "1", "--size", "16", "--out", str(tmp_path / "r32")])
    assert r.exit_code == 0 and "precision:" not in r.output  # fp32, the default, is not announced
    r = runner.invoke(app, ["train", "builtin:digits?per_class=30&val_per_class=10", "-m", ENC, "--scratch",
                            "--budget", "30s", "--epochs", "1", "--size", "16", "--precision", "bf16",
                            "--out", str(tmp_path / "r16")])
    assert r.exit_code == 0 and "precision: bf16 training steps (autocast)" in r.output
    listing = runner.invoke(app, ["runs", str(tmp_path), "--json"])
    assert listing.exit_code == 0, listing.output
    assert {Path(row["run"]).name: row["precision"] for row in json.loads(listing.stdout)} == {
        "run": "bf16", "r32": "fp32", "r16": "bf16"}
    assert "frozen 0 bf16" in runner.invoke(app, ["runs", str(tmp_path)]).output
