"""recommend() speed with the shipped meta-model on a real task's features, grid widened to >= 2000 candidates."""
import json, statistics, tempfile, time
from pathlib import Path
import polars as pl
from nasoa.app.adapt import open_store, shipped_experience
from nasoa.meta.candidates import Grid
from nasoa.meta.metamodel import MetaModel
from nasoa.zoo import profiled_records  # noqa: E402

with tempfile.TemporaryDirectory() as d:
    st = open_store(Path(d) / "s.sqlite")
    frame = pl.read_parquet(shipped_experience())
    feats = json.loads(frame["task_features"][0])
    base = MetaModel.load(st, zoo=profiled_records())
    grid = Grid(lrs=(0.001, 0.002, 0.003, 0.005, 0.007, 0.01, 0.015, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15),
                batch_sizes=(32, 64))
    mm = MetaModel(base.predictor, zoo=profiled_records(), store=st, grid=grid, time_model=base.time_model, backend=base.backend)
    n = mm.candidates(feats, 600).height
    for _ in range(3):
        mm.recommend(feats, 600, 5)
    ts = []
    for _ in range(30):
        t = time.perf_counter(); mm.recommend(feats, 600, 5); ts.append(1000 * (time.perf_counter() - t))
    print(json.dumps({"backend": mm.backend, "runs_learned": mm.predictor.n_seen, "candidates": n,
                      "median_ms": round(statistics.median(ts), 2), "max_ms": round(max(ts), 2), "repeats": 30}))
