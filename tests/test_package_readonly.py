"""The installed package is only ever read: everything that measures or registers writes to the user
data dir or to a path the user gives, and what lies there overlays what the package ships.

The end-to-end test runs the CLI from a copy of the package made read-only (``chmod -R a-w``; tests
may run as root, whom modes do not stop, so the copy is also compared file by file before and
after), with ``$NASOA_DATA_DIR`` in a tmp dir: ``zoo profile``, ``zoo pretrain``, ``meta fit`` and
``meta ship`` must work and leave the package exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ENC

REPO = Path(__file__).resolve().parents[1]
# Import name -> folder in the source checkout (pyproject's package-dir).
PACKAGE_DIRS = {"nasoa": "nasoa", "nasoa/zoo": "zoo", "nasoa/meta": "meta", "nasoa/kernels": "kernels",
                "nasoa/bench": "bench"}


def _tree(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``root``: relative path -> (mode, sha256)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            out[str(p.relative_to(root))] = (stat.S_IMODE(p.stat().st_mode), hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _readonly_package(dest: Path) -> Path:
    """A copy of the package (Python sources and shipped data, no bench results), read-only."""
    for name, src in PACKAGE_DIRS.items():
        ignore = shutil.ignore_patterns("__pycache__", "results") if src == "bench" else shutil.ignore_patterns(
            "__pycache__")
        shutil.copytree(REPO / src, dest / name, ignore=ignore)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return dest / "nasoa"


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    # -B: no __pycache__ written beside the read-only sources either.
    return subprocess.run([sys.executable, "-B", "-c", "from nasoa.cli.main import main; main()", *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def readonly(tmp_path):
    site = tmp_path / "site"
    pkg = _readonly_package(site)
    yield site, pkg
    for p in [site, *site.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)  # let pytest clean up


def test_measuring_and_registering_write_only_to_the_user_data_dir(readonly, tmp_path):
    site, pkg = readonly
    user = tmp_path / "user-data"
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NASOA_STORE", "NASOA_ZOO_DIR")}
    env.update(PYTHONPATH=str(site), NASOA_DATA_DIR=str(user), PYTHONDONTWRITEBYTECODE="1")
    where = subprocess.run([sys.executable, "-B", "-c", "import nasoa.zoo.registry as r, nasoa.meta.ship as s; "
                            "print(r.ZOO_DIR); print(s.PACKAGE_DATA_DIR)"],
                           env=env, cwd=work, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    assert where.stdout.split() == [str(pkg / "zoo"), str(pkg / "meta" / "data")]  # the copy is what runs
    before = _tree(site)
    shipped_z1 = next(m for m in json.loads((pkg / "zoo" / "members.json").read_text())["members"]
                      if m["name"] == "etnas_z1")

    r = _run(["zoo", "profile", "etnas_z1"], env, work)
    assert r.returncode == 0, r.stderr
    measured = json.loads((user / "zoo" / "measured.json").read_text())["members"]
    assert [m["name"] for m in measured] == ["etnas_z1"]
    r = _run(["zoo", "show", "etnas_z1"], env, work)
    shown = json.loads(r.stdout)
    assert shown["train_step_ms"] == measured[0]["train_step_ms"] and shown["measured_here"] is True
    assert shown["weights"] == shipped_z1["weights"]  # still the shipped weights, from the package
    assert shown["provenance"] != shipped_z1["provenance"]

    r = _run(["zoo", "pretrain", "--encoding", ENC, "--prefix", "mine", "--budget-per-member", "8s",
              "--source", "builtin:digits?per_class=10&size=16"], env, work)
    assert r.returncode == 0, r.stderr
    assert (user / "zoo" / "weights" / "mine1.safetensors").is_file()
    r = _run(["zoo", "list", "--json"], env, work)
    names = {m["name"]: m["origin"] for m in json.loads(r.stdout)}
    assert names["mine1"] == "user" and names["etnas_z1"] == "shipped"

    import _fake_store

    store = tmp_path / "given" / "collected.sqlite"
    fill = ("import sys; sys.path.insert(0, %r); from _fake_store import fill_store; "
            "fill_store(__import__('pathlib').Path(%r), 'builtin:digits?per_class=10', "
            "{'etnas_z1': 0.6, 'etnas_z2': 0.7})" % (str(Path(_fake_store.__file__).parent), str(store)))
    p = subprocess.run([sys.executable, "-B", "-c", fill], env=env, cwd=work, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    r = _run(["meta", "fit", "--store", str(store), "--backend", "lgbm-regressor"], env, work)
    assert r.returncode == 0, r.stderr
    assert (store.parent / "collected.model" / "metamodel.json").is_file()

    r = _run(["meta", "ship", str(store)], env, work)
    assert r.returncode == 0, r.stderr
    assert (user / "shipped" / "experience.parquet").is_file()
    assert (user / "shipped" / "experience.model" / "metamodel.json").is_file()
    r = _run(["meta", "ship", str(store), "--dest", str(tmp_path / "given" / "ship")], env, work)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "given" / "ship" / "experience.json").is_file()
    # The user's shipped experience now seeds an empty store, not the package's.
    seed = subprocess.run([sys.executable, "-B", "-c", "from nasoa.app.adapt import open_store, shipped_experience; "
                           "print(shipped_experience()); print(open_store(None).count())"],
                          env=env, cwd=work, capture_output=True, text=True, timeout=120)
    assert seed.returncode == 0, seed.stderr
    assert seed.stdout.split() == [str(user / "shipped" / "experience.parquet"), "6"]

    assert _tree(site) == before, "the package changed"
    assert not _files(work), "something was written into the working directory"
    outside = _files(tmp_path) - {f for f in _files(tmp_path) if f.startswith(("user-data/", "given/", "site/"))}
    assert not outside, outside


def test_profile_refuses_an_unknown_member_and_writes_nothing(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from nasoa.cli.main import app

    monkeypatch.setenv("NASOA_ZOO_DIR", str(tmp_path / "zoo"))
    r = CliRunner().invoke(app, ["zoo", "profile", "etnas_z1", "nosuch"])
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines() == ["error: no zoo member named 'nosuch'; see `nasoa zoo list` for the "
                                             "members to profile"]
    assert not (tmp_path / "zoo").exists()


def test_calibrate_measures_a_member_here_and_the_time_model_reads_it(tmp_path, monkeypatch):
    """`nasoa zoo calibrate` fine-tunes the member with the trainer at each frozen setting it is
    calibrated at, keeps the median step times with this machine's CPU and probe on the member's
    measured.json entry (a re-calibration replaces them; a profile measured here stays), leaves the
    shipped step table and the process's cores as they were, and the time model counts them as
    measurements on this machine; bad arguments get a one-line error and write nothing."""
    import os

    from typer.testing import CliRunner

    from nasoa.cli.main import app
    from nasoa.core.runtime import cpu_model
    from nasoa.meta.timing import calibrated_zoo
    from nasoa.zoo import build, registry

    monkeypatch.setenv("NASOA_ZOO_DIR", str(tmp_path / "zoo"))
    for args, msg in ((["etnas_z1", "nosuch"], "no profiled zoo member named 'nosuch'"),
                      (["--threads", "0"], "--threads takes 1 to"), (["--threads", "x"], "--threads 'x'")):
        r = CliRunner().invoke(app, ["zoo", "calibrate", *args])
        assert r.exit_code != 0 and len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr, r.stderr
    assert not (tmp_path / "zoo").exists()
    shipped = registry.record("etnas_z1")
    build.upsert(registry.measured_file(), {"name": "etnas_z1", "train_step_ms": {"0": 9.0, "1": 8.0, "2": 7.0,
                                                                                  "3": 6.0}})
    affinity = os.sched_getaffinity(0)
    for _ in range(2):
        done = build.calibrate_members(["etnas_z1"], threads=[1], seconds=2.5)
    assert os.sched_getaffinity(0) == affinity and "NASOA_THREADS" not in os.environ
    assert [m["frozen_stages"] for m in done] == build.calibration_settings(shipped) == [0, 1]
    rec = registry.record("etnas_z1")
    assert rec["calibration"] == [{k: v for k, v in m.items() if k != "model_name"} for m in done]
    assert rec["train_step_ms"] == {"0": 9.0, "1": 8.0, "2": 7.0, "3": 6.0}  # the profile stays
    for m in done:
        assert m["threads"] == 1 and m["steps"] >= 8 and m["step_ms"] > 0 and m["cpu"] == cpu_model()
        assert m["speed_probe_ms"] > 0 and m["batch_size"] == 64 and m["input_size"] == shipped["input_size"]
    assert registry.record("etnas_z2").get("calibration") is None

    class _Store:  # no runs: only the calibration is this machine's
        def timings(self):
            return []

    _, summary = calibrated_zoo(_Store(), registry.profiled_records())
    assert summary["calibration"] == 2 and summary["runs"] == 0


def test_user_records_overlay_the_shipped_ones(tmp_path, monkeypatch):
    """A user member of a shipped name replaces it; measured.json updates a member's stats (never its
    weights) or, as a whole record naming no member, adds one."""
    from nasoa.zoo import build, registry

    monkeypatch.setenv("NASOA_ZOO_DIR", str(tmp_path / "zoo"))
    shipped = {r["name"]: r for r in registry.records(include_user=False)}
    assert "etnas_z2" in shipped and "etnas_z3" in shipped
    udir = tmp_path / "zoo"
    build.upsert(udir / "members.json", {**{k: v for k, v in shipped["etnas_z2"].items() if not k.startswith("_")},
                                         "source_accuracy": 0.123, "weights": {"file": "weights/etnas_z2.safetensors"}})
    build.upsert(udir / "measured.json", {"name": "etnas_z3", "train_step_ms": {"0": 1.5}, "weights": {"file": "x"},
                                          "_dir": "/elsewhere"})
    build.upsert(udir / "measured.json", {"name": "other_net", "family": "mobilenetv2", "train_step_ms": {"0": 9.0}})
    build.upsert(udir / "measured.json", {"name": "partial_only", "train_step_ms": {"0": 9.0}})
    recs = {r["name"]: r for r in registry.records()}
    assert len(recs) == len(shipped) + 1 and "partial_only" not in recs
    assert recs["etnas_z2"]["origin"] == "user" and recs["etnas_z2"]["source_accuracy"] == 0.123
    assert recs["etnas_z2"]["_dir"] == str(udir)
    z3 = recs["etnas_z3"]
    assert z3["train_step_ms"] == {"0": 1.5} and z3["measured_here"] and z3["origin"] == "shipped"
    assert z3["weights"] == shipped["etnas_z3"]["weights"] and z3["_dir"] == shipped["etnas_z3"]["_dir"]
    assert recs["other_net"]["origin"] == "user"
    assert [r["name"] for r in registry.records(include_user=False)] == list(shipped)


def test_a_profile_measured_here_leaves_the_predictor_inputs_as_learned(tmp_path, monkeypatch):
    """``nasoa zoo profile`` overlays this machine's step times for the time model, but the member's
    cost as a meta-model input stays the shipped table's: the model learned it from that table, and a
    machine's profile would otherwise move every prediction of that member."""
    from nasoa.meta.descriptors import descriptor
    from nasoa.zoo import build, registry

    monkeypatch.setenv("NASOA_ZOO_DIR", str(tmp_path / "zoo"))
    shipped = {r["name"]: r for r in registry.records(include_user=False)}["etnas_z3"]
    table = {k: round(float(v) / 3.0, 2) for k, v in shipped["train_step_ms"].items()}
    build.upsert(tmp_path / "zoo" / "measured.json", {"name": "etnas_z3", "train_step_ms": table})
    z3 = {r["name"]: r for r in registry.records()}["etnas_z3"]
    assert z3["train_step_ms"] == table
    assert z3["reference_step"]["train_step_ms"] == shipped["train_step_ms"]
    here, there = descriptor(z3), descriptor(shipped)
    assert here["_train_step_ms"] == table  # what the time model plans with
    assert {k: v for k, v in here.items() if not k.startswith("_")} == {
        k: v for k, v in there.items() if not k.startswith("_")}
    assert here["model_step_ms_full"] == float(shipped["train_step_ms"]["0"])


def test_pretrain_names_its_weights_relative_to_the_registry(tmp_path, monkeypatch):
    from nasoa.zoo import build

    monkeypatch.setattr(build, "measure_step_ms", lambda *a, **k: {"0": 1.0})
    rec = build.pretrain(ENC, "rel_net", 6, source="builtin:digits?per_class=5&size=16",
                         registry=tmp_path / "reg" / "members.json", weights_dir=tmp_path / "blobs")
    assert rec["weights"]["file"] == "../blobs/rel_net.safetensors"
    assert (tmp_path / "reg" / rec["weights"]["file"]).resolve() == (tmp_path / "blobs" / "rel_net.safetensors")
