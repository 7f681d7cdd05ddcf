"""A batch forest (scikit-learn's extra trees) beside the shipped LightGBM, families out: does
averaging a learner of another kind help?

    SAVE=P python variants.py STORE '{}' SEED; python forest.py STORE P-SEED.parquet KIND SEED

KIND: et (scikit-learn's extra trees), rf (its random forest) or lgbrf (LightGBM's rf mode with extra
trees: a forest that could ship, saved as text).

The forest learns from the same features (the regime prior added as the booster gets it) the level
(y) and the within-task part (y minus its task's mean); each is added to the shipped score at a
weight."""
import json, os, sys
import numpy as np, polars as pl
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "meta-eval-20261203b"))
from lofo_common import experience
from nasoa.meta.predictors.regime_prior import RegimePrior
from nasoa.meta.predictors.schema import FeatureSchema
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

full, frame, fam = experience(sys.argv[1])
base = pl.read_parquet(sys.argv[2])  # shipped predictions, same row order
assert (base["id"] == full["id"]).all()
kind = sys.argv[3]; seed = int(sys.argv[4])
rf_lvl = np.zeros(frame.height); rf_rel = np.zeros(frame.height)
for f in dict.fromkeys(fam.to_list()):
    out = (fam == f).to_numpy()
    tr, te = frame.filter(pl.Series(~out)), frame.filter(pl.Series(out))
    prior = RegimePrior.fit(tr)
    trp = prior.add(tr, leave_own_task_out=True); tep = prior.add(te, leave_own_task_out=False)
    schema = FeatureSchema.fit(trp)
    xtr = np.nan_to_num(schema.matrix(trp), nan=-1.0); xte = np.nan_to_num(schema.matrix(tep), nan=-1.0)
    y = tr["y"].to_numpy(); g = tr["group"].to_numpy()
    rel = y - pl.DataFrame({"y": y, "g": g}).with_columns(pl.col("y").mean().over("g"))["y"].to_numpy()
    fit_rel = np.ones(len(y), dtype=bool)
    if os.environ.get("REL") == "decision":  # centred on the task at the run's budget; single-run decisions left out
        d = pl.DataFrame({"y": y, "g": g, "b": tr["budget_s"].to_numpy()})
        d = d.with_columns(pl.col("y").mean().over("g", "b").alias("m"), pl.len().over("g", "b").alias("n"))
        rel = (d["y"] - d["m"]).to_numpy(); fit_rel = (d["n"] >= 2).to_numpy()
    if kind == "lgbrf":  # LightGBM's random-forest mode: a forest saved as text, no pickle
        import lightgbm as lgb
        kw = dict(boosting_type="rf", n_estimators=300, num_leaves=255, min_child_samples=3, colsample_bytree=0.5,
                  subsample=0.632, subsample_freq=1, extra_trees=True, random_state=seed, n_jobs=1, verbose=-1)
        kw.update(json.loads(os.environ.get("FOREST", "{}")))  # e.g. FOREST='{"min_child_samples": 10}'
        rf_lvl[out] = lgb.LGBMRegressor(**kw).fit(xtr, y).predict(xte)
        rf_rel[out] = lgb.LGBMRegressor(**kw).fit(xtr[fit_rel], rel[fit_rel]).predict(xte)
        continue
    M = ExtraTreesRegressor if kind == "et" else RandomForestRegressor
    kw = dict(n_estimators=300, min_samples_leaf=3, max_features=0.5, n_jobs=1, random_state=seed)
    rf_lvl[out] = M(**kw).fit(xtr, y).predict(xte)
    rf_rel[out] = M(**kw).fit(xtr[fit_rel], rel[fit_rel]).predict(xte)

TUNE = ("animal", "mnist", "textures", "fractals")  # the split of ../meta-eval-20261204e/


def score(pred):
    g = full.with_columns(pl.Series("pred", pred))
    out = [float(np.mean([100 * (x["y"].max() - x.sort("pred", descending=True)["y"][0])
                          for _, x in g.group_by(keys) if x.height >= 2])) for keys in (["group"], ["group", "budget_s"])]
    for part in (g.filter(pl.col("family").is_in(TUNE)), g.filter(~pl.col("family").is_in(TUNE))):
        out.append(float(np.mean([100 * (x["y"].max() - x.sort("pred", descending=True)["y"][0])
                                  for _, x in part.group_by(["group", "budget_s"]) if x.height >= 2])))
    return out
if os.environ.get("SAVE"):  # the within-task forest's predictions (rf_rel), for ../meta-eval-20261205b/combo.py
    full.select("id", "group", "family", "budget_s", "y").with_columns(pl.Series("pred", rf_rel)).write_parquet(
        f"{os.environ['SAVE']}-{seed}.parquet")
lg = base["pred"].to_numpy()
for name, p in [("lgbm", lg), ("rf level", rf_lvl), ("rf rel", rf_rel), ("rf level+rel", rf_lvl + rf_rel)] + \
        [(f"lgbm + {a} rf_rel", lg + a * rf_rel) for a in (0.5, 0.75, 1, 1.5, 2, 4)] + [(f"lgbm + {a} (rf lvl+rel)", lg + a * (rf_lvl + rf_rel)) for a in (0.5, 1)]:
    r = score(p); print(kind, os.environ.get("FOREST", ""), os.environ.get("REL", "task"), seed, name, f"per task {r[0]:.2f} per decision {r[1]:.2f}",
                        f"| per decision TUNE {r[2]:.2f} TEST {r[3]:.2f}", flush=True)
