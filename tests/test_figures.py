"""The one figure helper (nasoa.core.figures): PNG bytes written atomically, no pyplot state touched."""

from __future__ import annotations

import struct
import subprocess
import sys

from nasoa.core.figures import figure, save_png


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_save_png_writes_the_figure_at_its_size_and_leaves_no_temporary_file(tmp_path):
    fig, (a, b) = figure(1, 2, figsize=(4.0, 2.0), dpi=50, sharey=True)
    a.plot([0, 1], [0, 1])
    b.scatter([0.5], [0.5])
    out = save_png(fig, tmp_path / "sub" / "f.png")
    assert out == tmp_path / "sub" / "f.png"
    assert _png_size(out.read_bytes()) == (200, 100)
    assert [p.name for p in out.parent.iterdir()] == ["f.png"]
    save_png(fig, out)  # replacing an existing file is fine too
    assert [p.name for p in out.parent.iterdir()] == ["f.png"]


def test_plotting_imports_no_pyplot_and_sets_no_backend(tmp_path):
    """Plots made inside a user's session leave their backend and open figures alone."""
    # the rcParams entry read raw: matplotlib.get_backend() would itself import pyplot to resolve it
    code = ("import sys, matplotlib; raw = lambda: dict.__getitem__(matplotlib.rcParams, 'backend'); before = raw(); "
            "from nasoa.core.figures import figure, save_png; "
            "fig, ax = figure(figsize=(2, 2), dpi=30); ax.bar([0, 1], [1, 2]); save_png(fig, sys.argv[1]); "
            "print('matplotlib.pyplot' in sys.modules, raw() == before)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "g.png")], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "True"]
    assert _png_size((tmp_path / "g.png").read_bytes()) == (60, 60)


def test_plots_are_made_through_the_helper_only():
    """One figure helper: no other module draws with matplotlib itself."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    users = {str(p.relative_to(repo)) for folder in ("nasoa", "kernels", "meta", "zoo", "bench")
             for p in (repo / folder).rglob("*.py")
             if "results" not in p.parts and re.search(r"^\s*(import|from) matplotlib", p.read_text(), re.M)}
    assert users == {"nasoa/core/figures.py"}, sorted(users)
