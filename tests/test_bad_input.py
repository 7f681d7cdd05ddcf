"""Bad input to every command: exit 2 (or click's 2 for usage errors), exactly one ``error:`` line
on stderr (``warning:`` lines aside), no traceback, and any store handed to the command unchanged.

Table-driven: each case is ``(id, argv, needle, store)``; the world the cases point into (data
folders, CSVs, stores, run dirs, a decompression bomb) is made once per module. Cases that need a
real training run live in the slow suite (tests/test_reliability.py and tests/test_adapt.py).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import ENC, make_tiny_zoo

runner = CliRunner()


def _png(path: Path, seed: int, mode: str = "RGB", size: int = 16) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size, size) if mode == "L" else (size, size, 3)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


def _folder(root: Path, classes: dict[str, int], offset: int = 0) -> Path:
    for ci, (name, n) in enumerate(classes.items()):
        for i in range(n):
            _png(root / name / f"{i}.png", offset + 100 * ci + i)
    return root


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decompression_bomb(path: Path, side: int = 20000) -> Path:
    """A PNG whose header claims side x side pixels (Pillow refuses > 2 x MAX_IMAGE_PIXELS at open)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + _chunk(b"IEND", b""))
    return path


def store_digest(path: Path) -> str:
    """sha256 of every row of every table (the file's bytes may be rewritten by a WAL checkpoint)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Data, stores and run dirs the cases point into; a zoo of one tiny member (as tiny_zoo)."""
    from safetensors.torch import save_file

    import nasoa

    from _fake_store import fill_store

    w = tmp_path_factory.mktemp("bad")
    mp = pytest.MonkeyPatch()
    mp.delenv("NASOA_STORE", raising=False)
    make_tiny_zoo(w, mp)

    good = _folder(w / "good", {"a": 8, "b": 8})
    fresh = _folder(w / "fresh", {"c": 8, "d": 8}, offset=5000)  # a task the store has never seen
    _folder(w / "one", {"only": 5})
    (w / "empty").mkdir()
    for c in ("a", "b"):
        (w / "corrupt" / c).mkdir(parents=True)
        for i in range(3):
            (w / "corrupt" / c / f"{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    outside = w / "csvdir"
    _folder(outside, {"x": 3})
    rows = ["path,label"] + [f"x/{i}.png,x" for i in range(3)] + [f"{good / 'b' / f'{i}.png'},y" for i in range(3)]
    (outside / "list.csv").write_text("\n".join(rows) + "\n")
    (w / "empty.csv").write_text("")
    np.savez(w / "noxy.npz", images=np.zeros((4, 8, 8), np.uint8))
    (w / "garbage.bin").write_bytes(b"\x00garbage" * 50)

    store = w / "store.sqlite"
    fill_store(store, f"{good}?per_class=6", {"tiny_member": 0.7})
    from nasoa.meta.store import ExperienceStore

    ExperienceStore(w / "empty_store.sqlite").close()
    (w / "corrupt.sqlite").write_bytes(b"this is not an sqlite database\n" * 200)
    (w / "not.parquet").write_bytes(b"PAR1 but not really")
    import polars as pl

    pl.DataFrame({"a": [1, 2]}).write_parquet(w / "columns.parquet")

    run = w / "run"
    run.mkdir()
    model = nasoa.create_model(ENC, num_classes=2, input_size=16)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, run / "model.safetensors")
    (run / "classes.json").write_text(json.dumps(["a", "b"]))
    (run / "manifest.json").write_text(json.dumps({"model": {
        "name": ENC, "encoding": ENC, "input_size": 16, "mean": [0.5] * 3, "std": [0.5] * 3, "channels": 3,
        "image_format": {"frame": [16, 16], "channels": 3, "decode_size": None, "max_side": 512}}}))
    bad_weights = w / "run_bad_weights"
    bad_weights.mkdir()
    for f in ("classes.json", "manifest.json"):
        (bad_weights / f).write_text((run / f).read_text())
    (bad_weights / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}" + b"\0" * 64)
    bad_manifest = w / "run_bad_manifest"
    bad_manifest.mkdir()
    for f in ("classes.json", "model.safetensors"):
        (bad_manifest / f).write_bytes((run / f).read_bytes())
    (bad_manifest / "manifest.json").write_text('{"model": {"name": "x"')
    no_flips = w / "run_no_flips"  # trained without horizontal flips (digits): no test-time mirroring
    no_flips.mkdir()
    for f in ("classes.json", "model.safetensors"):
        (no_flips / f).write_bytes((run / f).read_bytes())
    spec = json.loads((run / "manifest.json").read_text())
    (no_flips / "manifest.json").write_text(json.dumps({**spec, "model": {**spec["model"], "hflip": False}}))
    for name, temperature in (("run_bad_temperature", -1.0), ("run_text_temperature", "hot")):
        d = w / name
        d.mkdir()
        for f in ("classes.json", "model.safetensors"):
            (d / f).write_bytes((run / f).read_bytes())
        (d / "manifest.json").write_text(json.dumps({**json.loads((run / "manifest.json").read_text()),
                                                     "result": {"calibration": {"temperature": temperature}}}))
    for status in ("diverged", "running"):
        d = w / f"run_{status}"
        d.mkdir()
        for f in ("classes.json", "model.safetensors"):
            (d / f).write_bytes((run / f).read_bytes())
        (d / "manifest.json").write_text(json.dumps({**json.loads((run / "manifest.json").read_text()),
                                                     "status": status}))
    decompression_bomb(w / "big.png")
    (w / "notimage.png").write_text("hello")
    _png(w / "ok.png", 1)
    (w / "tasks_bad.txt").write_text("builtin:digits\n")
    (w / "tasks_budget.txt").write_text("builtin:digits ten\n")
    (w / "tasks_empty.txt").write_text("# nothing\n")
    (w / "afile").write_text("a file where a folder is needed")
    (w / "enc_weights.safetensors").write_bytes(b"garbage, not safetensors")
    (w / "locked").mkdir(mode=0o500)  # root writes there anyway: then /sys stands in (read-only to everyone)
    yield w
    mp.undo()


def _unwritable(w: Path) -> str:
    import os

    return str(w / "locked") if os.geteuid() != 0 else "/sys"


def _cases(w: Path) -> list[tuple[str, list[str], str, Path | None]]:
    store, empty, corrupt = w / "store.sqlite", w / "empty_store.sqlite", w / "corrupt.sqlite"
    good, csv = str(w / "good"), str(w / "csvdir" / "list.csv")
    tr = ["-m", ENC, "--scratch", "--budget", "20s", "--out", str(w / "never")]
    ad = ["--budget", "20s", "--store", str(store), "--out", str(w / "never")]
    st = ["--store", str(store)]
    return [
        # train
        ("train-missing-data", ["train", str(w / "nope"), *tr], "does not exist", None),
        ("train-empty-folder", ["train", str(w / "empty"), *tr], "found no class folders", None),
        ("train-one-class", ["train", str(w / "one"), *tr], "found 1 class", None),
        ("train-corrupt-images", ["train", str(w / "corrupt"), *tr], "no readable images", None),
        ("train-budget-too-small", ["train", good, "-m", ENC, "--scratch", "--budget", "2s"], "at least", None),
        ("train-budget-unreadable", ["train", good, "-m", ENC, "--scratch", "--budget", "ten"], "duration", None),
        ("train-malformed-encoding", ["train", good, "-m", "031-_32_1-1-231-11121", "--scratch", "--budget", "20s"],
         "position", None),
        ("train-unknown-model", ["train", good, "-m", "no_such_model", "--budget", "20s"], "no_such_model", None),
        ("train-unpretrained-member", ["train", good, "-m", "etnas_a", "--budget", "20s"], "--scratch", None),
        ("train-resume-without-out", ["train", good, "-m", ENC, "--scratch", "--budget", "20s", "--resume"],
         "--resume needs --out", None),
        ("train-csv-outside", ["train", csv, *tr], "--allow-outside", None),
        ("train-empty-csv", ["train", str(w / "empty.csv"), *tr], "has no rows", None),
        ("train-bad-spec-key", ["train", "builtin:digits?colour=1", *tr], "bad task spec key", None),
        ("train-unknown-builtin", ["train", "builtin:nosuch", *tr], "unknown built-in", None),
        ("train-npz-without-x-y", ["train", str(w / "noxy.npz"), *tr], "it needs x", None),
        ("train-unknown-file-kind", ["train", str(w / "garbage.bin"), *tr], "is a .bin file", None),
        ("train-unknown-device", ["train", good, *tr, "--device", "tpu"], "device", None),
        ("train-unknown-precision", ["train", good, *tr, "--precision", "fp8"], "unknown --precision", None),
        ("train-fp16-on-cpu", ["train", good, *tr, "--device", "cpu", "--precision", "fp16"], "needs a CUDA GPU", None),
        ("train-unknown-schedule", ["train", good, *tr, "--schedule", "zigzag"], "schedule", None),
        ("train-lr-out-of-range", ["train", good, *tr, "--lr", "0"], "--lr", None),
        # adapt (every case hands it a store, which must come out unchanged)
        ("adapt-missing-data", ["adapt", str(w / "nope"), *ad], "does not exist", store),
        ("adapt-unknown-strategy", ["adapt", good, *ad, "--strategy", "bogus"], "unknown strategy", store),
        ("adapt-unknown-probe", ["adapt", good, *ad, "--probe", "sometimes"], "unknown --probe", store),
        ("adapt-budget-below-minimum", ["adapt", good, "--budget", "3s", "--store", str(store)], "at least 6s", store),
        ("adapt-refused-budget-new-task", ["adapt", str(w / "fresh"), "--budget", "6s", "--store", str(store),
                                           "--out", str(w / "never")], "too small for every candidate", store),
        ("adapt-csv-outside", ["adapt", csv, *ad], "--allow-outside", store),
        ("adapt-one-class", ["adapt", str(w / "one"), *ad], "found 1 class", store),
        ("adapt-corrupt-store", ["adapt", good, "--budget", "20s", "--store", str(corrupt)], "unreadable", None),
        ("adapt-store-is-a-folder", ["adapt", good, "--budget", "20s", "--store", str(w / "good")], "is a folder",
         None),
        # predict
        ("predict-missing-run", ["predict", str(w / "nope"), str(w / "ok.png")], "not a finished run dir", None),
        ("predict-not-a-run", ["predict", good, str(w / "ok.png")], "not a finished run dir", None),
        ("predict-missing-image", ["predict", str(w / "run"), str(w / "gone.png")], "not a readable image", None),
        ("predict-not-an-image", ["predict", str(w / "run"), str(w / "notimage.png")], "not a readable image", None),
        ("predict-folder-without-images", ["predict", str(w / "run"), str(w / "empty")], "holds no image files", None),
        ("predict-summary-unlabelled", ["predict", str(w / "run"), str(w / "ok.png"), "--summary"],
         "--summary needs every image in a folder named after one of the run's classes", None),
        ("predict-decompression-bomb", ["predict", str(w / "run"), str(w / "big.png")], "decompression bomb", None),
        ("predict-corrupt-weights", ["predict", str(w / "run_bad_weights"), str(w / "ok.png")], "cannot load", None),
        ("predict-damaged-manifest", ["predict", str(w / "run_bad_manifest"), str(w / "ok.png")], "damaged", None),
        ("predict-negative-temperature", ["predict", str(w / "run_bad_temperature"), str(w / "ok.png")],
         "temperature is -1.0", None),
        ("predict-text-temperature", ["predict", str(w / "run_text_temperature"), str(w / "ok.png")], "damaged", None),
        ("predict-min-confidence-above-1", ["predict", str(w / "run"), str(w / "ok.png"), "--min-confidence", "1.5"],
         "--min-confidence", None),
        ("export-negative-temperature", ["export", str(w / "run_bad_temperature")], "damaged", None),
        ("predict-tta-without-flips", ["predict", str(w / "run_no_flips"), str(w / "ok.png"), "--tta"],
         "trained without horizontal flips", None),
        ("export-tta-without-flips", ["export", str(w / "run_no_flips"), "--tta"], "trained without horizontal flips",
         None),
        # export
        ("export-not-a-run", ["export", good], "not a finished run dir", None),
        ("export-corrupt-weights", ["export", str(w / "run_bad_weights")], "cannot load", None),
        ("export-unknown-format", ["export", str(w / "run"), "--format", "tflite"], "unknown export format", None),
        ("export-out-is-a-folder", ["export", str(w / "run"), "--out", str(w / "empty")], "is a folder", None),
        ("export-out-is-the-description", ["export", str(w / "run"), "--out", str(w / "never" / "m.json")],
         "names the description file", None),
        ("export-opset-out-of-range", ["export", str(w / "run"), "--opset", "7"], "--opset", None),
        ("export-diverged-run", ["export", str(w / "run_diverged")], "lower --lr", None),
        ("export-unfinished-run", ["export", str(w / "run_running")], "still running", None),
        ("export-out-unwritable", ["export", str(w / "run"), "--out", _unwritable(w) + "/x/m.onnx"], "cannot use",
         None),
        ("export-out-under-a-file", ["export", str(w / "run"), "--out", str(w / "afile" / "m.onnx")],
         "a file stands where a folder is needed", None),
        # runs
        ("runs-missing-folder", ["runs", str(w / "nope")], "is not a folder", None),
        ("runs-unknown-sort", ["runs", str(w / "good"), "--sort", "size"], "unknown --sort", None),
        # data
        ("data-show-missing", ["data", "show", str(w / "nope")], "does not exist", None),
        ("data-show-one-class", ["data", "show", str(w / "one")], "found 1 class", None),
        ("data-show-bad-classes", ["data", "show", "builtin:digits?classes=1,1"], "appears twice", None),
        ("data-show-csv-outside", ["data", "show", csv], "--allow-outside", None),
        ("data-show-corrupt-only", ["data", "show", str(w / "corrupt")], "no readable images", None),
        ("data-list-unknown-option", ["data", "list", "--yaml"], "No such option", None),
        ("data-export-missing", ["data", "export", str(w / "nope"), str(w / "export-never")], "does not exist", None),
        ("data-export-into-nonempty", ["data", "export", good, str(w / "one")], "not empty", None),
        ("data-export-onto-a-file", ["data", "export", good, str(w / "ok.png")], "is a file", None),
        ("data-export-unwritable", ["data", "export", good, "/proc/nasoa-export"], "cannot write into", None),
        ("data-export-no-test-split", ["data", "export", good, str(w / "export-none"), "--test"], "no test split",
         None),
        # meta
        ("meta-collect-corrupt-store", ["meta", "collect", "--runs", "1", "--store", str(corrupt)], "unreadable",
         None),
        ("meta-collect-bad-budgets", ["meta", "collect", "--runs", "1", *st, "--budgets", "soon"], "duration", store),
        ("meta-collect-bad-sizes", ["meta", "collect", "--runs", "1", *st, "--sizes", "big"], "--sizes", store),
        ("meta-collect-negative-runs", ["meta", "collect", "--runs", "-1", *st], "--runs", store),
        ("meta-fit-empty-store", ["meta", "fit", "--store", str(empty)], "no runs", empty),
        ("meta-fit-unknown-backend", ["meta", "fit", *st, "--backend", "xgboost"], "unknown --backend", store),
        ("meta-fit-bad-input-sizes", ["meta", "fit", *st, "--input-sizes", "big"], "--input-sizes", store),
        ("meta-collect-bad-input-sizes", ["meta", "collect", "--runs", "1", *st, "--input-sizes", "0"], "--input-sizes",
         store),
        ("meta-collect-side-above-every-member", ["meta", "collect", "--runs", "1", *st, "--input-sizes", "64,512"],
         "no zoo member runs above", store),
        ("meta-collect-bad-lrs", ["meta", "collect", "--runs", "1", *st, "--lrs", "fast"], "--lrs", store),
        ("meta-collect-unknown-member", ["meta", "collect", "--runs", "1", *st, "--member", "resnet50"],
         "--member resnet50: no pretrained, profiled zoo member", store),
        ("meta-collect-unknown-source", ["meta", "collect", "--runs", "1", *st, "--source", "imagenet"],
         "--source imagenet: no built-in source or family", store),
        ("meta-fit-lr-above-one", ["meta", "fit", *st, "--lrs", "0.01,3"], "--lrs", store),
        ("meta-fit-corrupt-store", ["meta", "fit", "--store", str(corrupt)], "unreadable", None),
        ("meta-eval-unknown-backend", ["meta", "eval", *st, "--backend", "xgboost"], "xgboost", store),
        ("meta-eval-one-task", ["meta", "eval", *st], "at least", store),
        ("meta-show-empty-store", ["meta", "show", "--store", str(empty)], "meta fit", empty),
        ("meta-stats-corrupt-store", ["meta", "stats", "--store", str(corrupt)], "unreadable", None),
        ("meta-export-missing-folder", ["meta", "export", str(w / "afile" / "sub" / "x.parquet"), *st],
         "cannot write", store),
        ("meta-export-unwritable", ["meta", "export", _unwritable(w) + "/x.parquet", *st], "cannot write", store),
        ("meta-import-not-parquet", ["meta", "import", str(w / "not.parquet"), *st], "cannot read the parquet",
         store),
        ("meta-import-wrong-columns", ["meta", "import", str(w / "columns.parquet"), *st], "not a nasoa run export",
         store),
        ("meta-import-missing-file", ["meta", "import", str(w / "gone.parquet"), *st], "does not exist", store),
        ("meta-refresh-corrupt-store", ["meta", "refresh", "--store", str(corrupt)], "unreadable", None),
        ("meta-upgrade-corrupt-store", ["meta", "upgrade", "--store", str(corrupt)], "unreadable", None),
        ("meta-ship-missing-store", ["meta", "ship", str(w / "gone.sqlite"), "--dest", str(w / "s1")],
         "no experience store", None),
        ("meta-ship-empty-store", ["meta", "ship", str(empty), "--dest", str(w / "s2")], "no runs", empty),
        ("meta-ship-corrupt-store", ["meta", "ship", str(corrupt), "--dest", str(w / "s3")], "unreadable", None),
        # stream
        ("stream-missing-tasks-file", ["stream", str(w / "gone.txt"), *st, "--out", str(w / "s1")], "does not exist",
         store),
        ("stream-bad-line", ["stream", str(w / "tasks_bad.txt"), *st, "--out", str(w / "s2")], "DATA BUDGET", store),
        ("stream-bad-budget", ["stream", str(w / "tasks_budget.txt"), *st, "--out", str(w / "s3")], "duration",
         store),
        ("stream-no-tasks", ["stream", str(w / "tasks_empty.txt"), *st, "--out", str(w / "s4")], "lists no tasks",
         store),
        ("stream-unknown-reference", ["stream", str(w / "tasks_bad.txt"), *st, "--reference", "oracle"],
         "unknown reference", store),
        # search
        ("search-budget-unreadable", ["search", "--out", str(w / "search"), "--budget", "forever"], "duration", None),
        ("search-out-is-a-file", ["search", "--out", str(w / "afile"), "--budget", "5s"], "afile", None),
        # zoo
        ("zoo-show-unknown", ["zoo", "show", "no_such_member"], "no zoo member", None),
        ("zoo-add-missing-weights", ["zoo", "add", "newbie", "--encoding", ENC, "--weights", str(w / "gone.st")],
         "gone.st", None),
        ("zoo-add-corrupt-weights", ["zoo", "add", "newbie", "--encoding", ENC, "--weights",
                                     str(w / "enc_weights.safetensors")], "cannot read", None),
        ("zoo-add-malformed-encoding", ["zoo", "add", "newbie", "--encoding", "031-_32_1-1-231-11121", "--weights",
                                        str(w / "w.safetensors")], "position", None),
        ("zoo-pretrain-nothing", ["zoo", "pretrain"], "nothing to pretrain", None),
        ("zoo-profile-unknown", ["zoo", "profile", "nosuch"], "no zoo member named 'nosuch'", None),
        ("zoo-calibrate-unknown", ["zoo", "calibrate", "nosuch"], "no profiled zoo member named 'nosuch'", None),
        ("zoo-calibrate-no-threads", ["zoo", "calibrate", "--threads", "0"], "--threads takes 1 to", None),
        # arch
        ("arch-show-unknown", ["arch", "show", "etnas_q"], "unknown model", None),
        ("arch-show-malformed-encoding", ["arch", "show", "031-_32_1-1-231-11121"], "position 13", None),
        ("arch-sample-malformed-parent", ["arch", "sample", "--mutate", "031-_32_1-1-231-11121"], "position 13", None),
        ("arch-sample-unknown-level", ["arch", "sample", "--level", "nano"], "--level", None),
        # bench
        ("bench-kernels-bad-dtype", ["bench", "kernels", "--dtype", "float8"], "--dtype", None),
        ("bench-kernels-bad-layout", ["bench", "kernels", "--layout", "nhwc"], "--layout", None),
        ("bench-zoo-bad-budgets", ["bench", "zoo", "--budgets", "soon", "--out", str(w / "b1")], "duration", None),
        ("bench-transfer-bad-seeds", ["bench", "transfer", "--seeds", "a,b", "--out", str(w / "b2")], "--seeds", None),
        ("bench-adapt-bad-shard", ["bench", "adapt", "--shard", "3/2", "--out", str(w / "b3")], "shard", None),
        ("bench-stability-no-tasks", ["bench", "stability", "--out", str(w / "b4")], "--task", None),
        ("bench-stability-report-without-rows", ["bench", "stability", "--report-only", "--out", str(w / "b5")],
         "no stability rows", None),
        ("bench-noise-no-store", ["bench", "noise", "--out", str(w / "b6")], "--store is required", None),
        ("bench-noise-missing-store", ["bench", "noise", "--store", str(w / "none.sqlite"), "--out", str(w / "b7")],
         "no experience store at", None),
        ("bench-noise-report-without-rows", ["bench", "noise", "--report-only", "--out", str(w / "b8")],
         "no noise rows", None),
        ("bench-budgets-bad-range", ["bench", "budgets", "--runs", "0"], "--runs", None),
        ("bench-speed-too-few-repeats", ["bench", "speed", "--repeats", "1"], "--repeats", None),
        ("bench-meta-no-runs", ["bench", "meta", "--runs", "0"], "--runs", None),
    ]


CASE_IDS = [c[0] for c in _cases(Path("/"))]


@pytest.mark.parametrize("case", CASE_IDS)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(world, case, monkeypatch):
    from nasoa.cli.main import app

    _, argv, needle, store = next(c for c in _cases(world) if c[0] == case)
    if case == "adapt-refused-budget-new-task":
        # A machine a million times slower than measured: no regime fits, after the task's features are
        # computed (a factor of 1000 still fitted the tiny member when its step was profiled on an idle core).
        monkeypatch.setenv("NASOA_MACHINE_FACTOR", "1e6")
    before = store_digest(store) if store is not None else None
    r = runner.invoke(app, argv)
    out = r.stdout + r.stderr
    assert "Traceback" not in out and not isinstance(r.exception, (AssertionError, TypeError)), out
    assert r.exit_code == 2, (r.exit_code, out, r.exception)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert needle in lines[0], lines[0]
    if store is not None:
        assert store_digest(store) == before, f"{case} changed the store {store}"
    if case == "adapt-refused-budget-new-task":  # the features were computed, and not cached
        assert "meta-features" not in out


@pytest.mark.parametrize("argv", [["meta", "fit"], ["meta", "eval"], ["meta", "stats"], ["meta", "refresh"],
                                  ["meta", "export", "OUT"]], ids=lambda a: a[1])
def test_a_command_that_reads_a_store_refuses_a_path_with_none_and_creates_nothing(tmp_path, argv):
    """`meta fit --store typo.sqlite` said "no runs" after leaving an empty store file at the typo."""
    from nasoa.cli.main import app

    gone = tmp_path / "typo.sqlite"
    argv = [str(tmp_path / "x.parquet") if a == "OUT" else a for a in argv]
    r = runner.invoke(app, [*argv, "--store", str(gone)])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: there is no experience store at {gone}"), r.stderr
    assert not list(tmp_path.iterdir())  # no store, no WAL, no export


@pytest.mark.parametrize("bad", [["--source", "imagenet"], ["--member", "resnet50"]],
                         ids=lambda a: a[0][2:])
def test_a_collection_refused_for_its_options_creates_no_store(tmp_path, bad):
    """`meta collect --source typo` printed its header and left a new, empty store behind before it refused."""
    from nasoa.cli.main import app

    r = runner.invoke(app, ["meta", "collect", "--runs", "1", "--store", str(tmp_path / "new.sqlite"), *bad])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad[0]}"), r.stderr
    assert not list(tmp_path.iterdir())


def test_the_table_covers_every_command():
    from nasoa.cli.main import app
    from typer.main import get_command

    def leaves(cmd, prefix=()):
        subs = getattr(cmd, "commands", None)
        if not subs:
            yield " ".join(prefix)
            return
        for name, sub in subs.items():
            yield from leaves(sub, (*prefix, name))

    covered = {" ".join(a for a in argv[:2] if not a.startswith(("-", "/"))) for _, argv, _, _ in _cases(Path("/x"))}
    covered |= {argv[0] for _, argv, _, _ in _cases(Path("/x"))}
    # Commands without a bad input of their own: list views (no input but flags).
    exempt = {"zoo list"}
    missing = sorted(c for c in leaves(get_command(app)) if c not in covered and c not in exempt)
    assert not missing, missing
    assert len(CASE_IDS) >= 40


def test_warnings_are_printed_once_without_a_source_line(tmp_path):
    """A DataWarning reached the terminal twice: through `warnings` (with a source line) and the CLI."""
    root = _folder(tmp_path / "d", {"a": 4, "b": 4})
    (root / "a" / "bad.png").write_bytes(b"not an image")
    (root / "a" / "loop").symlink_to("..")
    p = subprocess.run([sys.executable, "-m", "nasoa.cli.main", "data", "show", str(root)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 2 and all(ln.startswith("warning: ") for ln in lines), p.stderr
    assert sum("unreadable" in ln for ln in lines) == 1 and sum("symbolic links" in ln for ln in lines) == 1
    assert "DataWarning" not in p.stderr and "warnings.warn" not in p.stderr


def test_decompression_bomb_through_a_real_process(world):
    """The case the issue met: a traceback and exit 1 from `nasoa predict RUN big.png`."""
    p = subprocess.run([sys.executable, "-m", "nasoa.cli.main", "predict", str(world / "run"), str(world / "big.png")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ") and "big.png" in p.stderr
