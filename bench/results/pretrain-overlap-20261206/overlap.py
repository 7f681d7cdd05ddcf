"""Do the ET-NAS members know the images they were pretrained on better than unseen ones?

    python bench/results/pretrain-overlap-20261206/overlap.py > overlap.txt     # ~3 min, one thread

The ET-NAS members were pretrained on the train splits of MNIST and Fashion-MNIST, and the experience's
tasks of the MNIST, Fashion-MNIST and their -colour / -corrupt variants are cut from those same train
splits. If pretraining had memorised its images, those tasks would flatter the ET-NAS members. Each
member, with its own 20-class source head, classifies 3,000 images it was trained on, 3,000 of its
pretraining validation hold-out and 3,000 of the sources' test splits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from nasoa.core.data import Batches, load_task, load_test
from nasoa.core.net import ETNasNet
from nasoa.core.train import evaluate

ROOT = Path(__file__).resolve().parents[3]


def main() -> None:
    torch.set_num_threads(1)
    members = json.loads((ROOT / "zoo" / "members.json").read_text())["members"]
    print("| member | pretraining epochs | trained-on images | validation hold-out | test split |")
    print("|---|---|---|---|---|")
    for r in members:
        if r.get("family") != "etnas" or "pretrain" not in r or not r["name"].startswith("etnas_z"):
            continue
        spec, seed = r["source_spec"], r["pretrain"]["seed"]
        task, test = load_task(spec, seed=seed), load_test(spec, seed=seed)
        net = ETNasNet(r["encoding"], num_classes=task.num_classes, input_size=r["input_size"])
        net.load_state_dict(load_file(ROOT / "zoo" / r["weights"]["file"]))  # the source head included
        rng = np.random.default_rng(0)
        accs = []
        for x, y in ((task.x_train, task.y_train), (task.x_val, task.y_val),
                     (test.x_val if test.num_val else test.x_train, test.y_val if test.num_val else test.y_train)):
            idx = torch.as_tensor(rng.choice(len(y), size=min(3000, len(y)), replace=False))
            batches = Batches(x[idx], y[idx], 256, shuffle=False, augment=False, mean=(0.5,) * 3, std=(0.5,) * 3)
            accs.append(evaluate(net, batches, "cpu")[0])
        print(f"| {r['name']} | {r['pretrain']['epochs']:.2f} | {accs[0]:.4f} | {accs[1]:.4f} | {accs[2]:.4f} |",
              flush=True)


if __name__ == "__main__":
    main()
