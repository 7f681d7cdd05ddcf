"""The worst case of a load: river's log one row short of its cut (2 x 128 - 1 = 255 rows to replay).

    taskset -c 0 python bench/results/meta-online-20261201/worst_case_river.py
"""
import json
import statistics
import tempfile
import time
from pathlib import Path

from nasoa.meta import synthetic
from nasoa.meta.features import training_frame
from nasoa.meta.metamodel import MetaModel
from nasoa.meta.predictors import CombinedPredictor, RiverPredictor, load_predictor
from nasoa.meta.store import ExperienceStore

zoo = synthetic.synthetic_zoo(25, seed=0)
W = CombinedPredictor.ONLINE_DEFAULTS["window"]
with tempfile.TemporaryDirectory() as d:
    st = ExperienceStore(Path(d) / "bench.sqlite")
    st.append_many(synthetic.synthetic_runs(zoo, 30, 12, seed=0))
    mm = MetaModel(zoo=zoo, store=st)
    frame = mm._learn_frame(training_frame(st.runs(), mm.time_model, mm.member_features)).head(2 * W - 1)
    p = RiverPredictor(0, window=W)
    p.learn_many(frame)
    p.save(Path(d) / "river")
    wall, cpu = [], []
    for _ in range(10):
        t, c = time.perf_counter(), time.process_time()
        q = load_predictor(Path(d) / "river")
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
print(json.dumps({"window": W, "rows_replayed": len(q._log), "median_s": round(statistics.median(wall), 3),
                  "max_s": round(max(wall), 3), "cpu_median_s": round(statistics.median(cpu), 3)}))
