"""The online back-ends compared prequentially (each task's runs predicted before they are learned):
on the synthetic function of nasoa.meta.checks (60 tasks x 10 runs, 10 learned in bulk, 50 arriving
online; mean of 5 seeds) and on the shipped experience (`nasoa meta eval --online` protocol: the
first third of the tasks in bulk, the rest arriving online).

    taskset -c 0 python bench/results/meta-online-20261201/prequential.py > prequential.json
"""
import json
import tempfile
from pathlib import Path

import numpy as np

from nasoa.meta import checks
from nasoa.meta.evaluate import prequential
from nasoa.meta.predictors import make_predictor

NAMES = ("lgbm-regressor", "river", "combo-residual", "combo-blend")
facs = {n: (lambda s, n=n: make_predictor(n, s)) for n in NAMES}
per_seed = [prequential(checks.synthetic_frame(60, rows_per_task=10, seed=s), facs, warm_tasks=10, seed=s)
            for s in range(5)]
synthetic = {n: {k: round(float(np.mean([r[n][k] for r in per_seed])), 4) for k in ("regret", "spearman", "ndcg3")}
             for n in NAMES}

from nasoa.app import adapt as A  # noqa: E402
from nasoa.meta.metamodel import MetaModel  # noqa: E402
from nasoa.zoo import profiled_records  # noqa: E402

with tempfile.TemporaryDirectory() as d:
    st = A.open_store(Path(d) / "shipped.sqlite")  # the shipped experience, as a fresh install has it
    res = MetaModel(zoo=profiled_records(), store=st).evaluate(backends=["lgbm-regressor"], by=("task",), folds=3, online=True)
shipped = {n: {k: res["online"][n][k] for k in ("regret", "spearman", "ndcg3")} for n in NAMES}
print(json.dumps({"synthetic_60x10_warm10_5seeds": synthetic,
                  "shipped_experience": {"runs": res["runs"], "tasks": res["tasks"],
                                         "warm_tasks": res["online_warm_tasks"], "online": shipped}}, indent=2))
