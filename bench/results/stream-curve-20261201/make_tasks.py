"""The learning-curve stream's tasks: 24 tasks of one family (default fractals), drawn with a fixed
seed: 4-12 classes (at most the family's), 20-80 training images per class, 30 validation images
per class, at 32-64 px (28-32 px for a family whose images are smaller), one per line with its
budget (15 s)."""
import sys

import numpy as np

from nasoa.core.data import list_builtin

family, n, budget = (sys.argv[1] if len(sys.argv) > 1 else "fractals"), 24, "15s"
info = {r["name"]: r for r in list_builtin()}[family]
n_cls, native = int(info["num_classes"]), int(max(info["native_size"]))
sizes = [32, 48, 64] if native >= 64 else [28, 32]
rng = np.random.default_rng(20261201)
for i in range(n):
    k = int(rng.integers(min(4, n_cls), min(12, n_cls) + 1))
    classes = sorted(int(c) for c in rng.choice(n_cls, size=k, replace=False))
    per_class = int(rng.choice([20, 40, 60, 80]))
    size = int(rng.choice(sizes))
    print(f"builtin:{family}?classes={','.join(map(str, classes))}&per_class={per_class}&val_per_class=30"
          f"&size={size}&seed={int(rng.integers(0, 2**31 - 1))} {budget}")
