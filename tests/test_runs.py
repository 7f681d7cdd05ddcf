"""`nasoa runs`: a line per run dir, read from the manifests that train and adapt write."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from conftest import ENC
from nasoa.cli.main import app

runner = CliRunner()


def _fake(run: Path, created: str, acc: float, status: str = "done", balanced: float | None = None) -> None:
    """A manifest as `nasoa adapt` writes it (only the fields `nasoa runs` reads)."""
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({
        "kind": "nasoa.train", "status": status, "created": created, "command": "adapt",
        "task": {"name": "mine?seed=0", "num_classes": 3},
        "regime": {"lr": 0.003, "frozen_stages": 1, "optimizer": "adamw", "schedule": "cosine"},
        "model": {"name": "mobilenetv2_imagenet"},
        "result": {"budget_s": 30.0, "elapsed_s": 27.5, "epochs": 12.0, "val_accuracy": acc,
                   "val_balanced_accuracy": acc if balanced is None else balanced},
        "adapt": {"data": "mine/", "strategy": "nasoa", "elapsed_s": 29.1, "planned_epochs": 11.0}}))


def test_runs_lists_every_run_dir_from_its_manifest(tmp_path):
    root = tmp_path / "runs"
    _fake(root / "b", "2026-12-06T10:00:00+00:00", 0.91)
    _fake(root / "a", "2026-12-06T11:00:00+00:00", 0.95, balanced=0.80)
    _fake(root / "c", "2026-12-06T09:00:00+00:00", 0.50, status="interrupted")
    (root / "b" / "export").mkdir()
    (root / "b" / "export" / "model.onnx").write_bytes(b"x")
    (root / "b" / "export" / "model.onnx.json").write_text("{}")
    (root / "search").mkdir()
    (root / "search" / "manifest.json").write_text(json.dumps({"kind": "nasoa.search"}))  # not a run: skipped
    (root / "broken").mkdir()
    (root / "broken" / "manifest.json").write_text('{"kind": "nasoa.tr')  # damaged: a warning
    (root / "notes").mkdir()  # no manifest: not a run dir

    r = runner.invoke(app, ["runs", str(root), "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [Path(x["run"]).name for x in rows] == ["c", "b", "a"]  # by creation time
    b = rows[1]
    assert (b["status"], b["command"], b["strategy"], b["model"], b["data"], b["classes"]) == (
        "done", "adapt", "nasoa", "mobilenetv2_imagenet", "mine/", 3)
    assert (b["budget_s"], b["elapsed_s"], b["epochs"], b["planned_epochs"]) == (30.0, 29.1, 12.0, 11.0)
    assert b["exported"] == ["model.onnx"] and rows[0]["exported"] == []
    assert "skipped" in r.stderr and "broken" in r.stderr

    r = runner.invoke(app, ["runs", str(root), "--sort", "val"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["created", "run", "status"]
    assert [ln.split()[2] for ln in lines[1:]] == [str(root / n) for n in ("a", "b", "c")]
    assert "0.9500 (bal 0.8000)" in lines[1] and "interrupted" in lines[3] and "model.onnx" in lines[2]
    assert lines[1].endswith("mine/ (3 classes)")
    # one run dir given as itself
    r = runner.invoke(app, ["runs", str(root / "a"), "--json"])
    assert [x["run"] for x in json.loads(r.stdout)] == [str(root / "a")]


def test_runs_reads_a_real_run_and_says_when_there_is_none(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["runs"])  # no runs/ folder yet
    assert r.exit_code == 2 and "runs is not a folder" in r.output
    (tmp_path / "runs").mkdir()
    r = runner.invoke(app, ["runs"])
    assert r.exit_code == 0 and "no run dirs found" in r.stdout
    r = runner.invoke(app, ["train", "builtin:digits?per_class=20", "--model", ENC, "--scratch", "--budget", "8s",
                            "--epochs", "1", "--size", "16", "--out", "runs/first", "--json"])
    assert r.exit_code == 0, r.output
    trained = json.loads(r.stdout.strip().splitlines()[-1])
    rows = json.loads(runner.invoke(app, ["runs", "--json"]).stdout)
    assert len(rows) == 1 and rows[0]["run"] == "runs/first" and rows[0]["command"] == "train"
    assert rows[0]["val_accuracy"] == trained["val_accuracy"] and rows[0]["model"] == ENC
    assert rows[0]["regime"]["lr"] == trained["regime"]["lr"] and rows[0]["status"] == "done"
