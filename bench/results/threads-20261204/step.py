import sys, os, json
import nasoa  # sets OMP_WAIT_POLICY default before torch (as the CLI)
import torch
from nasoa.app.workflow import prepare_model_and_task
from nasoa.core.train.loop import finetune
from nasoa.core.train.regime import Regime
member, fr, size, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
D = f"builtin:animal?classes=0,2,5,7&per_class=150&size={size}"
prep = prepare_model_and_task(D, member, seed=0, pretrained=True, size=size, device="cpu")
reg = Regime.from_dict({"lr": 0.003, "frozen_stages": fr, "optimizer": "adamw", "schedule": "cosine"})
r = finetune(prep.model, prep.task, reg, budget, mean=prep.mean, std=prep.std, hflip=prep.hflip, progress=False)
print(json.dumps({"member": member, "fr": fr, "threads": torch.get_num_threads(), "step_ms": round(r.step_ms, 1), "steps": r.steps,
                  "policy": os.environ.get("OMP_WAIT_POLICY"), "spin": os.environ.get("GOMP_SPINCOUNT")}))
