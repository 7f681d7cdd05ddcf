"""The meta-model's top-1 regret on the noise bench's tasks, held against the oracle's, per task and
per decision (a task at one budget, the choice `nasoa adapt` makes). ../noise-20261202/compare.py
with the per-decision reading added.

Leave one family out (the primary protocol of `nasoa meta eval --by family`): for each family
lineage, the shipped back-end (LightGBM regressor with its within-task part) is fitted on every run
of the other families in STORE and ranks the runs of this folder's tasks in that family. Each task
is scored three ways on its clean pairs (both runs with >= 80% of their core): by the first outcomes
(as `nasoa meta eval` scores), by the replicates' outcomes, and by the mean of the two (half the noise
variance). The oracle: pick by the first outcome, score on the replicate (both ways, halved).

    nasoa meta import meta/data/experience.parquet --store /tmp/shipnew.sqlite    # the ship (uids kept)
    .venv/bin/python bench/results/noise-20261204/compare.py /tmp/shipnew.sqlite [SEEDS]   # -> compare.json
    .venv/bin/python bench/results/noise-20261204/compare.py /tmp/shipnew.sqlite 3 ../noise-20261202
        # the earlier sample, scored by this ship's model -> compare-noise-20261202.json
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import numpy as np
import polars as pl

import nasoa.app  # noqa: F401  (registers the zoo's builders)
from nasoa.app.experience import open_store
from nasoa.meta import MetaModel
from nasoa.meta.features import training_frame
from nasoa.meta.predictors.registry import make_predictor
from nasoa.zoo import profiled_records

HERE = Path(__file__).resolve().parent
MIN_SHARE = 0.8


def main(store: str, seeds: int = 3, folder: Path = HERE) -> None:
    rows = [json.loads(x) for f in sorted(folder.glob("noise*.jsonl")) for x in f.read_text().splitlines() if x.strip()]
    pairs = {r["uid"]: r for r in rows if "error" not in r and (r.get("cpu_share") or 0) >= MIN_SHARE
             and (r.get("cpu_share_rep") or 0) >= MIN_SHARE}
    sel = json.loads((folder / "selection.json").read_text())
    seen: dict[str, int] = {}
    for r in rows:
        seen[r["task_id"]] = seen.get(r["task_id"], 0) + 1
    done = {t for t in sel["tasks"] if seen.get(t, 0) >= sel["runs"][t]}
    st = open_store(store)
    runs = st.runs()
    mm = MetaModel.load(st, zoo=profiled_records(), seed=0)
    full = training_frame(st.runs(decode=True), mm.time_model, mm.member_features)
    assert full.height == runs.height
    wf = mm._learn_frame(full).with_columns(full["family"], runs["uid"])
    per_seed = []
    for seed in range(seeds):
        tasks = []
        for fam in sorted(wf["family"].unique().to_list()):
            m = wf["family"] == fam
            test = wf.filter(m & wf["uid"].is_in(list(pairs)) & wf["group"].is_in(list(done)))
            if test.height == 0:
                continue
            p = make_predictor("lgbm-regressor", seed)
            p.learn_many(wf.filter(~m).drop("family", "uid"))
            t = test.select("group", "uid").with_columns(pl.Series("pred", p.predict_many(test.drop("family", "uid"))))
            budget = {u: pairs[u]["budget_s"] for u in t["uid"].to_list()}
            t = t.with_columns(pl.Series("decision", [f"{g}@{budget[u]:g}" for g, u in zip(t["group"], t["uid"])]))
            for key, min_runs in (("group", 3), ("decision", 2)):
                for g, sub in t.group_by(key):
                    if sub.height < min_runs:
                        continue
                    y1 = np.array([pairs[u]["y"] for u in sub["uid"]])
                    y2 = np.array([pairs[u]["y_rep"] for u in sub["uid"]])
                    ym = (y1 + y2) / 2
                    c = int(np.argmax(sub["pred"].to_numpy()))
                    pick = pairs[sub["uid"][c]]
                    tasks.append({"task": g[0], "by": key, "family": fam, "runs": sub.height,
                                  "pick": f"{pick['model']} frozen {pick['regime'].get('frozen_stages')} "
                                          f"{pick['regime'].get('optimizer')} lr {pick['regime'].get('lr')} {pick['budget_s']:g} s",
                                  "model_first": float(y1.max() - y1[c]), "model_replicate": float(y2.max() - y2[c]),
                                  "model_mean": float(ym.max() - ym[c]),
                                  "oracle": 0.5 * (float(y2.max() - y2[int(np.argmax(y1))]) + float(y1.max() - y1[int(np.argmax(y2))]))})
        per_seed.append(tasks)
    def mean(k: str, ts: list[dict]) -> float:
        return round(100 * statistics.fmean(t[k] for t in ts), 2)
    out: dict = {"store": store, "pairs": len(pairs), "seeds": seeds}
    for key, name in (("group", "per_task"), ("decision", "per_decision")):
        sub = [[t for t in ts if t["by"] == key] for ts in per_seed]
        summary = {k: [mean(k, ts) for ts in sub] for k in ("model_first", "model_replicate", "model_mean", "oracle")}
        out[name] = {"groups": len(sub[0]), "mean_regret_points_by_seed": summary,
                     "mean_over_seeds": {k: round(statistics.fmean(v), 2) for k, v in summary.items()}}
    out["rows_seed0"] = per_seed[0]
    name = "compare.json" if folder == HERE else f"compare-{folder.name}.json"
    (HERE / name).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "rows_seed0"}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3,
         (HERE / sys.argv[3]).resolve() if len(sys.argv) > 3 else HERE)
