"""What loading cost before the river window: the river part replayed every stored run at load.

Builds the same synthetic 10,000-run store as `nasoa bench meta --runs 10000`, trains a river
forest on every run (window None, as format 1 did), saves it and times load_predictor (median of 3).

    taskset -c 0 python bench/results/meta-online-20261201/before_replay.py
"""
import json
import statistics
import tempfile
import time
from pathlib import Path

from nasoa.meta import synthetic
from nasoa.meta.features import training_frame
from nasoa.meta.metamodel import MetaModel
from nasoa.meta.predictors import RiverPredictor, load_predictor
from nasoa.meta.store import ExperienceStore

zoo = synthetic.synthetic_zoo(25, seed=0)
with tempfile.TemporaryDirectory() as d:
    st = ExperienceStore(Path(d) / "bench.sqlite")
    st.append_many(synthetic.synthetic_runs(zoo, 834, 12, seed=0)[:10_000])
    mm = MetaModel(zoo=zoo, store=st)
    frame = mm._learn_frame(training_frame(st.runs(), mm.time_model, mm.member_features))
    p = RiverPredictor(0)  # window None: every run kept and replayed
    t = time.perf_counter()
    p.learn_many(frame)
    learn_s = time.perf_counter() - t
    p.save(Path(d) / "river")
    times = []
    for _ in range(3):
        t = time.perf_counter()
        load_predictor(Path(d) / "river")
        times.append(time.perf_counter() - t)
print(json.dumps({"runs": frame.height, "learn_all_s": round(learn_s, 2),
                  "load_replay_all_s": [round(x, 2) for x in times],
                  "median_s": round(statistics.median(times), 2)}))
