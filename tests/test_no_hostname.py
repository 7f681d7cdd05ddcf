"""No hostname in what nasoa writes or what the repository commits: it names the user's machine
and would travel in shared run manifests, stores and results (issue #15, item 9)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_machine_record_has_no_hostname():
    from nasoa.core.provenance import provenance
    from nasoa.core.runtime import machine

    host = socket.gethostname()
    for record in (machine(), provenance()):
        text = json.dumps(record, default=str)
        assert "hostname" not in text and "node" not in record.get("machine", record)
        assert f'"{host}"' not in text


def test_a_run_manifest_has_no_hostname(tmp_path):
    import torch

    import nasoa
    from nasoa.core.data import load_task
    from nasoa.core.train import Regime, finetune

    task = load_task("builtin:digits?per_class=10&size=16")
    torch.manual_seed(0)
    model = nasoa.create_model("031-_8_1-1-21-1", num_classes=task.num_classes, input_size=16)
    finetune(model, task, Regime(epochs=1), 20, run_dir=tmp_path / "run", progress=False)
    assert "hostname" not in (tmp_path / "run" / "manifest.json").read_text()


def test_committed_results_have_no_hostname():
    tracked = subprocess.run(["git", "ls-files", "bench/results", "zoo", "meta/data"], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    if not tracked:
        import pytest

        pytest.skip("not a git checkout")
    text = [f for f in tracked if f.endswith((".json", ".md", ".csv", ".txt", ".log"))]
    assert text
    bad = [f for f in text if (REPO / f).is_file() and '"hostname"' in (REPO / f).read_text(errors="replace")]
    assert not bad, bad
    import polars as pl

    extra = pl.read_parquet(REPO / "meta/data/experience.parquet")["extra"].to_list()
    assert not any("hostname" in e for e in extra)
