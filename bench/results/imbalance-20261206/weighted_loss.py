"""One `nasoa train` run on an imbalanced folder, with or without class-weighted cross-entropy (a
prototype: the training step's loss is patched to weigh each class by n / (k * n_class)), scored on the
folder's balanced test/ split with `nasoa predict`'s per-class table. One JSON line on stdout.

    python weighted_loss.py DATA MODEL LR OPTIMIZER SEED BALANCE(0|1) OUT_DIR
"""
import json, sys, os
import numpy as np
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

data, model, lr, opt, seed, balance, out = sys.argv[1:8]
torch.set_num_threads(1)
counts = [len(os.listdir(os.path.join(data, "train", c))) for c in sorted(os.listdir(os.path.join(data, "train")))]
w = torch.tensor([sum(counts) / (len(counts) * n) for n in counts], dtype=torch.float32)
orig = F.cross_entropy
def patched(out_, y, *a, **k):
    if "label_smoothing" in k and balance == "1":
        k["weight"] = w.to(out_.device)
    return orig(out_, y, *a, **k)
F.cross_entropy = patched
from nasoa.cli.main import app
from nasoa.app.predict import predict, per_class
r = CliRunner().invoke(app, ["train", data, "-m", model, "--budget", "20s", "--lr", lr, "--optimizer", opt,
                             "--seed", seed, "--out", out, "--json"])
assert r.exit_code == 0, r.output
p = json.loads(r.stdout.strip().splitlines()[-1])
preds = predict(out, [os.path.join(data, "test")])
rows = per_class(preds)
acc = np.mean([x.label == x.folder_class for x in preds])
bal = np.mean([row["recall"] for row in rows])
print(json.dumps({"data": os.path.basename(data), "model": model, "seed": seed, "balance": balance,
                  "val_acc": p["val_accuracy"], "val_bal": p["val_balanced_accuracy"], "test_acc": acc, "test_bal": bal,
                  "recall": {row["class"]: round(row["recall"], 3) for row in rows}}), flush=True)
