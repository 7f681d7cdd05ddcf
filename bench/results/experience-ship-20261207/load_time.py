"""Times load_predictor on the shipped model (first load, then the median of five), from the repository root:
    python bench/results/experience-ship-20261207/load_time.py
and from a folder holding the ship before (`git archive 95d657d~1 meta/data/experience.model | tar -x`)."""
import glob, statistics, time
import lightgbm, river  # noqa: F401  imported first: the load alone is timed, as in ../experience-all-20261207/
from nasoa.meta.predictors import load_predictor
d = sorted(glob.glob("meta/data/experience.model/predictor-*"))[0]
ts = []
for _ in range(5):
    t = time.perf_counter(); load_predictor(d); ts.append(time.perf_counter() - t)
print(f"load_predictor of the shipped model ({d}): first {ts[0]:.2f} s, median of 5 {statistics.median(ts):.2f} s")
