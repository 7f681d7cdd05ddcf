"""One provenance record (nasoa.core.provenance) for zoo members, benchmarks and saved predictors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nasoa.core import provenance as prov
from nasoa.bench.provenance import fields
from nasoa.core.runtime import versions

REPO = Path(__file__).resolve().parents[1]


def test_the_record_holds_date_machine_versions_git_and_env(monkeypatch):
    for key in prov.ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NASOA_KERNELS", "torch")
    rec = prov.provenance()
    assert set(rec) == {"date", "machine", "versions", "git", "env"}
    assert rec["date"].endswith("+00:00") and rec["versions"] == versions()
    assert rec["machine"]["cores"] >= 1 and "platform" in rec["machine"] and "accelerator" in rec["machine"]
    assert rec["env"] == {"NASOA_KERNELS": "torch"}
    if (REPO / ".git").exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        assert rec["git"]["commit"] == head and isinstance(rec["git"]["dirty"], bool)


def test_the_record_never_imports_torch():
    code = "import sys; from nasoa.core.provenance import provenance; provenance(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_zoo_members_benchmarks_and_predictors_share_the_one_record(tmp_path):
    import json

    from nasoa.bench import provenance as bench_provenance
    from nasoa.meta.predictors import make_predictor
    from nasoa.zoo import build

    assert build.provenance is prov.provenance and bench_provenance.provenance is prov.provenance
    make_predictor("lgbm-regressor").save(tmp_path / "p")
    assert json.loads((tmp_path / "p" / "manifest.json").read_text())["versions"] == versions()


def test_reports_read_the_record_and_older_flat_records_by_short_names():
    rec = {"date": "2026-12-01T00:00:00+00:00", "machine": {"platform": "Linux", "cpu": "X", "cores": 2,
                                                              "torch_threads": 2, "accelerator": None},
           "versions": {"python": "3.11", "torch": "2.14.1", "nasoa": "0.1.0"}, "git": None, "env": {}}
    f = fields(rec)
    assert (f["date"], f["cpu"], f["cpu_cores"], f["torch_threads"], f["gpu"]) == (rec["date"], "X", 2, 2, None)
    assert (f["python"], f["torch"], f["nasoa"], f["triton"]) == ("3.11", "2.14.1", "0.1.0", None)
    old = {"date": "2026-11-01", "cpu": "Y", "cpu_cores": 4, "torch": "2.4", "nasoa": "0.0.9"}
    assert fields(old) is old
