"""The import contracts (.importlinter: layers, zoo/meta independence) hold, checked by import-linter
over the package laid out as it installs (nasoa.meta from meta/, nasoa.zoo from zoo/, ...)."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / ".importlinter"


def _installed_layout(dest: Path) -> Path:
    """Copy each package's modules to where pyproject.toml installs them (grimp walks folders, so
    the editable install's mapping of nasoa.meta to meta/ would hide every mapped package)."""
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = cfg["package-dir"]
    for pkg in cfg["packages"]:
        base = max((p for p in dirs if pkg == p or pkg.startswith(p + ".")), key=len)
        src = REPO / dirs[base] / Path(*pkg[len(base):].strip(".").split("."))
        out = dest / Path(*pkg.split("."))
        out.mkdir(parents=True, exist_ok=True)
        for f in src.glob("*.py"):
            shutil.copy2(f, out / f.name)
    return dest


def _lint(root: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    assert exe.exists(), "import-linter is a test dependency: pip install -e '.[test]'"
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(exe), "--config", str(CONFIG), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_import_contracts_hold(tmp_path):
    out = _lint(_installed_layout(tmp_path))
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout and re.search(r"Analyzed \d+ files", out.stdout)


def test_a_core_module_importing_the_meta_model_breaks_the_contracts(tmp_path):
    """The check sees the mapped packages: an upward import planted in the core is reported."""
    root = _installed_layout(tmp_path)
    runtime = root / "nasoa" / "core" / "runtime.py"
    runtime.write_text(runtime.read_text() + "\n\ndef _planted():\n    from nasoa.meta import store  # noqa\n")
    out = _lint(root)
    assert out.returncode != 0 and "nasoa.core.runtime -> nasoa.meta.store" in out.stdout, out.stdout[-4000:]


def test_every_module_of_nasoa_has_a_layer():
    """A new module of nasoa/ is placed in a layer (else no contract would look at it)."""
    cp = configparser.ConfigParser()
    cp.read(CONFIG)
    listed = set(re.findall(r"nasoa\.\w+", cp["importlinter:contract:layers"]["layers"]))
    modules = {f"nasoa.{p.stem}" for p in (REPO / "nasoa").glob("*.py") if p.stem != "__init__"}
    modules |= {f"nasoa.{p.parent.name}" for p in (REPO / "nasoa").glob("*/__init__.py")}
    missing = sorted(modules - listed)
    assert not missing, f"place {missing} in a layer of {CONFIG.name}"
