"""nasoa on the new ship (7,632 runs on 764 tasks: seedN/) against nasoa on the ship before (7,082 runs:
../experience-all-20261207/nasoa-seed2/ and shipped-seedN/) and practice and default, all on Intel Xeon VMs at the
same seed: seed 2's practice and default from ../adapt-heldout-20261207/baselines-seed2/ (session 39's VM), seeds
3-5's from ../adapt-heldout-20261205/seedN/ (an Intel Xeon VM of 2026-12-05; its seed-2 practice and default rows
read within 0.5 points of session 39's). Means, the worst task against the better baseline, the one-shot plans
within 25% of the epochs run, and each cell's pick.
    python summary.py 2 3 4 5      # -> summary.txt (the seeds that have rows)
"""
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIP = HERE.parent / "experience-all-20261207"
PREV = HERE.parent / "adapt-heldout-20261207"
EARLIER = HERE.parent / "adapt-heldout-20261205"
# The table is ../experience-all-20261207/summary.py's; only where each side's rows lie differs.
_spec = importlib.util.spec_from_file_location("ship_before_summary", SHIP / "summary.py")
before = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(before)


def sources(s):
    """Seed ``s``'s rows: (nasoa on the new ship, nasoa on the ship before, practice and default)."""
    base = before.rows(PREV / "baselines-seed2") if s == "2" else before.rows(EARLIER / f"seed{s}")
    return (before.rows(HERE / f"seed{s}"), before.rows(SHIP / ("nasoa-seed2" if s == "2" else f"shipped-seed{s}")),
            base)


if __name__ == "__main__":
    before.table(sys.argv[1:], sources, names=("new ship", "ship before"), short=("new", "before"))
