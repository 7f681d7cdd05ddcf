"""The README's layout tree matches the folders: every package folder is listed, every listed
folder exists, and the top-level folders the design keeps are all there."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOP = ("nasoa", "kernels", "meta", "zoo", "bench", "tests")


def _layout_tree() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    section = text.split("### Layout", 1)[1]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block, "README's Layout section has no ```text tree"
    rows = {}
    for line in block.group(1).splitlines():
        m = re.match(r"(\S+/)\s{2,}(\S.*)", line)
        assert m, f"a layout line is 'folder/  what it holds': {line!r}"
        rows[m.group(1).rstrip("/")] = m.group(2)
    return rows


def _package_folders(root: Path) -> set[str]:
    found = {top for top in TOP if (root / top).is_dir()}
    for top in TOP[:-1]:
        for init in (root / top).rglob("__init__.py"):
            rel = init.parent.relative_to(root)
            if "results" not in rel.parts:
                found.add(rel.as_posix())
    return found


def _mismatch(listed: set[str], root: Path) -> tuple[list[str], list[str]]:
    actual = _package_folders(root)
    return sorted(actual - listed), sorted(listed - actual)


def test_the_readme_layout_lists_every_package_folder_and_nothing_else():
    listed = _layout_tree()
    missing, extra = _mismatch(set(listed), REPO)
    assert missing == [], f"folders missing from README's layout tree: {missing}"
    assert extra == [], f"README's layout tree lists folders that do not exist: {extra}"
    assert all(len(desc) > 10 for desc in listed.values())


def test_the_layout_check_reports_an_unlisted_package_and_a_removed_folder(tmp_path):
    listed = set(_layout_tree())
    for folder in listed - {"nasoa/core/space"}:  # one listed folder is gone
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        if folder != "tests":
            (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "nasoa" / "app" / "new").mkdir()
    (tmp_path / "nasoa" / "app" / "new" / "__init__.py").write_text("")  # a package nobody listed
    assert _mismatch(listed, tmp_path) == (["nasoa/app/new"], ["nasoa/core/space"])
