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


# -- imports inside functions ------------------------------------------------------------------------
# An import inside a function is there only to keep start-up fast (torch, polars, lightgbm, ... off
# the paths that never need them), and says so on its line: `# lazy: <reason>`. Never to dodge an
# import cycle: that is a layering problem, fixed by moving the shared piece down. The CLI's command
# functions import their application lazily as a rule, stated once in nasoa/cli/__init__.py.
SOURCE_DIRS = ("nasoa", "kernels", "meta", "zoo", "bench")
LAZY_MARK = "# lazy:"


def _sources(root: Path):
    for d in SOURCE_DIRS:
        for p in sorted((root / d).rglob("*.py")):
            rel = p.relative_to(root)
            if rel.parts[:2] != ("bench", "results"):
                yield rel, p


def _unexplained_lazy_imports(root: Path) -> list[str]:
    """``path:line: import`` for each import inside a function (any depth) outside nasoa/cli/ whose
    first or last line lacks ``# lazy:``."""
    import ast

    bad = []
    for rel, p in _sources(root):
        if rel.parts[:2] == ("nasoa", "cli"):
            continue
        src = p.read_text()
        lines = src.splitlines()
        seen = set()
        for fn in ast.walk(ast.parse(src, filename=str(rel))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and node.lineno not in seen:
                    seen.add(node.lineno)
                    if LAZY_MARK not in lines[node.lineno - 1] and LAZY_MARK not in lines[node.end_lineno - 1]:
                        bad.append(f"{rel}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return bad


def _cli_states_the_lazy_rule(root: Path) -> bool:
    import ast

    doc = ast.get_docstring(ast.parse((root / "nasoa" / "cli" / "__init__.py").read_text())) or ""
    return all(w in doc for w in ("imports its application", "inside", "nasoa --help"))


def test_imports_inside_functions_say_why_they_are_lazy():
    bad = _unexplained_lazy_imports(REPO)
    assert not bad, ("an import inside a function needs `# lazy: <reason>` on its line (only to keep start-up "
                     "fast; hoist it to the module's top otherwise):\n" + "\n".join(bad))
    assert _cli_states_the_lazy_rule(REPO), "nasoa/cli/__init__.py's docstring states why commands import lazily"


def test_an_unexplained_import_inside_a_function_is_reported(tmp_path):
    """The check sees a planted function-level import without its reason, and a CLI whose docstring
    lost the rule; a command function's import in nasoa/cli/ is not reported."""
    for d in SOURCE_DIRS:
        shutil.copytree(REPO / d, tmp_path / d, ignore=shutil.ignore_patterns("results", "__pycache__", "*.pyc"))
    assert _unexplained_lazy_imports(tmp_path) == [] and _cli_states_the_lazy_rule(tmp_path)
    runtime = tmp_path / "nasoa" / "core" / "runtime.py"
    runtime.write_text(runtime.read_text() + "\n\ndef _planted():\n    def inner():\n        from nasoa.core import errors\n"
                       "        return errors\n    return inner\n")
    multi = tmp_path / "meta" / "knn.py"
    multi.write_text(multi.read_text() + "\n\ndef _planted_too():\n    from nasoa.core.errors import (  # lazy: a reason\n"
                     "        NasoaError)\n    from nasoa.core.errors import (\n        NasoaError as E)\n    return E\n")
    cli = tmp_path / "nasoa" / "cli" / "data.py"
    cli.write_text(cli.read_text() + "\n\ndef _planted_command():\n    from nasoa.core import errors\n    return errors\n")
    bad = _unexplained_lazy_imports(tmp_path)
    assert len(bad) == 2, bad
    assert bad[0].startswith("nasoa/core/runtime.py:") and bad[0].endswith("from nasoa.core import errors")
    assert bad[1].startswith("meta/knn.py:") and bad[1].endswith("from nasoa.core.errors import (")
    init = tmp_path / "nasoa" / "cli" / "__init__.py"
    init.write_text('"""The ``nasoa`` command line."""\n')
    assert not _cli_states_the_lazy_rule(tmp_path)
