"""Variants of the shipped regressor, one family held out at a time, booster seeds as given.

    python bench/results/meta-eval-20261205/variants.py STORE VARIANT SEEDS    # e.g. '{"frac": 0.75}' 0,1,2

STORE holds the ship (`nasoa meta import meta/data/experience.parquet --store STORE`). VARIANT is a
JSON object: LGBMPredictor keyword arguments (`bags`, `num_leaves`, `extra_params`, ...) and these
experiment keys: `weight` (the within-task part's weight, beyond the constructor's cap of 4), `key`
"decision" (the LambdaRank part grouped by task x budget, `min_runs` a group), `noise_c` / `abs_floor`
(a ranking grade's span at least that many standard errors of the task's validation accuracy / that
accuracy), `rel_params` (LightGBM settings of the LambdaRank part alone), `chance_norm` (the level
booster learns (y - 1/k) / (1 - 1/k)), `knn_lift` (the k-NN accuracy above chance as a feature),
`prior_lofo` (a training row's regime prior leaves out its whole family, not only its task), `frac`
(train on that share of the other families' tasks, drawn with seed 100 + booster seed: the learning
curve), `run_frac` (train on that share of each of the other families' tasks' runs, at least 2 a task,
drawn with seed 200 + booster seed: fewer runs per task instead of fewer tasks), `replicates` (the
noise benches' re-runs, ../noise-2026120*/ pooled as ../noise-20261204b/compare.py counts them, join the training rows of every fold whose held-out family
is not theirs, each as a copy of its original run's row with the replicate's accuracy; they are never
scored), `half_life` (the within-task part's run weights halve every that share of the table instead
of every whole table), `level_recency` (the level booster weighs runs by age the same way),
`train_min_id` (runs with lower ids are scored but never learned from), `train_min_share` (runs that
had less than that share of their core, `extra.cpu_share`, are scored but never learned from), `train_profiled` (the ImageNet members' runs below their
profiled 64 px are scored but never learned from). Prints the regret per task and per decision over all eight families and over the TUNE / TEST
halves of ../meta-eval-20261204e/; SAVE=PREFIX writes each seed's predictions to PREFIX-SEED.parquet.
"""
import sys, json
import numpy as np
import polars as pl
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "meta-eval-20261203b"))
from lofo_common import experience
from nasoa.meta.predictors.lgbm import LGBMPredictor

from nasoa.meta.predictors import regime_prior as rp

TASK_FAMILY: dict = {}
_orig_add = rp.RegimePrior.add

def add(self, frame, *, leave_own_task_out):
    if not leave_own_task_out or frame.height == 0 or not self.applies(frame):
        return _orig_add(self, frame, leave_own_task_out=leave_own_task_out)
    groups = frame["group"].cast(str).to_list()
    # per (cell, family) sums
    if not hasattr(self, "_fam"):
        fam = {}
        for cell, by in self.parts.items():
            for g, s in by.items():
                f = TASK_FAMILY.get(g, g)
                a = fam.setdefault((cell, f), [0.0, 0.0, 0.0])
                for j in range(3): a[j] += s[j]
        self._fam = fam
    rel, fail = np.empty(frame.height), np.empty(frame.height)
    for i, (cell, gi) in enumerate(zip(rp._cells(frame), groups)):
        s = list(self.totals.get(cell, (0.0, 0.0, 0.0)))
        own = self._fam.get((cell, TASK_FAMILY.get(gi, gi)))
        if own is not None:
            s = [a - b for a, b in zip(s, own)]
        rel[i] = (s[0] + rp.PRIOR_RUNS * self.mean_rel) / (s[2] + rp.PRIOR_RUNS)
        fail[i] = (s[1] + rp.PRIOR_RUNS * self.mean_fail) / (s[2] + rp.PRIOR_RUNS)
    return frame.with_columns(pl.Series("cell_rel", rel), pl.Series("cell_fail", fail))

def install_family_prior(full):
    TASK_FAMILY.update(dict(zip(full["group"].cast(str).to_list(), full["family"].to_list())))
    rp.RegimePrior.add = add


full, frame, fam = experience(sys.argv[1])
variant = json.loads(sys.argv[2])
if variant.pop("prior_lofo", False):
    install_family_prior(full); variant["_pl"] = 1
seeds = [int(s) for s in sys.argv[3].split(",")]

BUD = []
class Dec(LGBMPredictor):
    key = "task"; min_runs = 3
    noise_c = 0.0; abs_floor = 0.0; rel_params = {}
    half_life = 1.0; level_recency = False
    def _rank_data(self, x, y, g, schema, weight=None, member=0):
        if weight is not None and self.half_life != 1.0:
            weight = weight ** (1.0 / self.half_life)  # 0.5 ** (age / (half_life * rows))
        if not (self.noise_c or self.abs_floor or self.rel_params):
            return super()._rank_data(x, y, g, schema, weight, member)
        import lightgbm as lgb
        order, sizes = self._task_blocks(g)
        xk, yk, gk = x[order], y[order], g[order]
        nval = xk[:, schema.names.index("task_num_val")]
        params = {**self._lgb_params(len(yk), schema, member), "objective": "lambdarank",
                  "lambdarank_truncation_level": 30, "label_gain": self.RELATIVE_GAIN, **self.rel_params}
        out = np.zeros(len(yk), dtype=np.int32)
        for key in np.unique(gk):
            m = gk == key
            lo, hi = yk[m].min(), yk[m].max()
            yb = float(np.clip(yk[m].mean(), 0.02, 0.98)); n = max(float(np.nanmedian(nval[m])), 1.0)
            den = max(hi - lo, self.noise_c * np.sqrt(yb * (1 - yb) / n), self.abs_floor)
            out[m] = np.round(20 * (yk[m] - lo) / den).astype(np.int32) if den > 0 else 0
        ds = lgb.Dataset(xk, out, group=sizes, weight=None if weight is None else weight[order],
                         feature_name=schema.names, categorical_feature=list(schema.categorical),
                         free_raw_data=True, params=self._binning())
        return ds, params, xk, gk

    chance_norm = False
    def _chance(self, x):
        k = x[:, self._schema_names.index("task_num_classes")]
        return np.where(np.isfinite(k) & (k >= 2), 1.0 / np.maximum(k, 2.0), 0.0)

    def _dataset(self, frame, schema):
        ds, x, ya = super()._dataset(frame, schema)
        if self.level_recency:  # the level booster weighs runs by age too, as the within-task part does
            import lightgbm as lgb
            age = len(ya) - 1 - np.arange(len(ya))
            ds = lgb.Dataset(x, ya, weight=0.5 ** (age / (self.half_life * len(ya))), feature_name=schema.names,
                             categorical_feature=list(schema.categorical), free_raw_data=True, params=self._binning())
        if not self.chance_norm:
            return ds, x, ya
        import lightgbm as lgb
        self._schema_names = list(schema.names)
        c = self._chance(x)
        ds = lgb.Dataset(x, (ya - c) / (1.0 - c), feature_name=schema.names, categorical_feature=list(schema.categorical),
                         free_raw_data=True, params=self._binning())
        return ds, x, ya

    def _main_scores(self, x):
        s = super()._main_scores(x)
        if not self.chance_norm:
            return s
        c = self._chance(x)
        return c + (1.0 - c) * s

    def _fit_relative(self, x, ya, frame, schema, member=0):
        if self.key == "decision":
            assert len(BUD) == frame.height
            frame = frame.with_columns((pl.col("group").cast(str) + "|" + pl.Series(BUD).cast(str)).alias("group"))
        old = LGBMPredictor._in_ranked_tasks
        mr = self.min_runs
        LGBMPredictor._in_ranked_tasks = staticmethod(lambda g, min_runs=3: old(g, mr))
        try:
            return super()._fit_relative(x, ya, frame, schema, member)
        finally:
            LGBMPredictor._in_ranked_tasks = staticmethod(old)

TUNE = ("animal", "mnist", "textures", "fractals")
def score(pred, fams=None):
    g = full.with_columns(pl.Series("pred", pred))
    if fams: g = g.filter(pl.col("family").is_in(list(fams)))
    res = []
    for keys in (["group"], ["group", "budget_s"]):
        res.append(float(np.mean([100 * (x["y"].max() - x.sort("pred", descending=True)["y"][0])
                                  for _, x in g.group_by(keys) if x.height >= 2])))
    return res

if variant.get("knn_lift"):
    import nasoa.meta.predictors.lgbm as L
    L.MONOTONE_FEATURES = tuple(L.MONOTONE_FEATURES) + ("knn_lift",)
    _c = 1.0 / pl.col("task_num_classes").clip(2, None)
    frame = frame.with_columns(((pl.col("knn") - _c) / (1 - _c)).alias("knn_lift"))

SHARE = None
if variant.get("train_min_share"):
    import sqlite3
    share = dict(sqlite3.connect(sys.argv[1]).execute(
        "select id, json_extract(extra, '$.cpu_share') from runs where json_valid(extra)").fetchall())
    # no share recorded (the 613 runs of 2026-11-22, collected before it was): counted as a whole core
    SHARE = np.array([share.get(i) if share.get(i) is not None else 1.0 for i in full["id"].to_list()])

REP = None
if variant.get("replicates"):
    import sqlite3
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "noise-20261204b"))
    from compare import pooled_pairs  # the three noise samples' clean pairs, as their pooled reading counts them
    uid_id = dict(sqlite3.connect(sys.argv[1]).execute("select uid, id from runs").fetchall())
    row_of = {i: n for n, i in enumerate(full["id"].to_list())}
    idx, ys = [], []
    for uid, run in pooled_pairs()[0].items():
        n = row_of.get(uid_id.get(uid))
        if n is not None:
            idx += [n] * len(run["reps"]); ys += [float(y) for y in run["reps"]]
    REP = frame[idx].with_columns(pl.Series("y", ys, dtype=frame["y"].dtype))
    REP_FAM = fam.to_numpy()[idx]
    print("replicates:", REP.height, "rows", flush=True)

for seed in seeds:
    pred = np.zeros(frame.height)
    for f in dict.fromkeys(fam.to_list()):
        out = (fam == f).to_numpy()
        kw = {k: v for k, v in variant.items() if k not in ("key", "min_runs", "weight", "_pl", "noise_c", "abs_floor", "rel_params", "frac", "chance_norm", "knn_lift", "run_frac", "replicates", "half_life", "level_recency", "train_min_id", "train_min_share", "train_profiled")}
        p = Dec(seed=seed, **kw)
        p.chance_norm = variant.get("chance_norm", False)
        p.half_life = variant.get("half_life", 1.0); p.level_recency = variant.get("level_recency", False)
        p.rel_params = variant.get("rel_params", {})
        p.noise_c = variant.get("noise_c", 0.0); p.abs_floor = variant.get("abs_floor", 0.0)
        p.key = variant.get("key", "task"); p.min_runs = variant.get("min_runs", 3)
        if "weight" in variant: p.relative_weight = variant["weight"]
        learn = ~out
        if variant.get("frac"):
            groups = np.unique(frame["group"].to_numpy()[learn])
            keep = set(np.random.default_rng(100 + seed).choice(groups, int(round(variant["frac"] * len(groups))),
                                                                 replace=False).tolist())
            learn = learn & np.isin(frame["group"].to_numpy(), list(keep))
        if variant.get("run_frac"):
            rng = np.random.default_rng(200 + seed)
            grp = frame["group"].to_numpy()
            keep = np.zeros(frame.height, dtype=bool)
            for gkey in np.unique(grp[learn]):
                idx = np.flatnonzero(learn & (grp == gkey))
                n = max(2, int(round(variant["run_frac"] * len(idx))))
                keep[rng.choice(idx, min(n, len(idx)), replace=False)] = True
            learn = learn & keep
        if variant.get("train_min_id"):  # runs with lower ids are scored, never learned from
            learn = learn & (full["id"].to_numpy() >= variant["train_min_id"])
        if variant.get("train_profiled"):  # the ImageNet members' runs below 64 px are scored, never learned from
            below = full["model_name"].str.ends_with("_imagenet").to_numpy() & (full["model_input_size"].to_numpy() < 64)
            learn = learn & ~below
        if variant.get("train_min_share"):  # runs that had less of their core are scored, never learned from
            learn = learn & (SHARE >= variant["train_min_share"])
        train = frame.filter(pl.Series(learn))
        if REP is not None:
            train = pl.concat([train, REP.filter(pl.Series(REP_FAM != f))])
        BUD[:] = train["budget_s"].to_list()
        p.learn_many(train)
        pred[out] = p.predict_many(frame.filter(pl.Series(out)))
    r = score(pred); a = score(pred, TUNE); b = score(pred, [f for f in set(fam.to_list()) if f not in TUNE])
    print(json.dumps(variant), "seed", seed, f"per task {r[0]:.2f} per decision {r[1]:.2f}",
          f"| TUNE {a[0]:.2f} {a[1]:.2f} | TEST {b[0]:.2f} {b[1]:.2f}", flush=True)
    import os
    if os.environ.get("SAVE"):
        full.select("id", "group", "family", "budget_s", "y").with_columns(pl.Series("pred", pred)).write_parquet(
            f"{os.environ['SAVE']}-{seed}.parquet")
