"""The learning-curve stream's tasks: 24 tasks of one generated family (default fractals), drawn
with a fixed seed (class subsets of 4-12 classes, 20-80 training images per class, 32-64 px,
30 validation images per class), one per line with its budget."""
import sys

import numpy as np

family, n, budget = (sys.argv[1] if len(sys.argv) > 1 else "fractals"), 24, "15s"
rng = np.random.default_rng(20261201)
for i in range(n):
    k = int(rng.integers(4, 13))
    classes = sorted(int(c) for c in rng.choice(40, size=k, replace=False))
    per_class = int(rng.choice([20, 40, 60, 80]))
    size = int(rng.choice([32, 48, 64]))
    print(f"builtin:{family}?classes={','.join(map(str, classes))}&per_class={per_class}&val_per_class=30"
          f"&size={size}&seed={int(rng.integers(0, 2**31 - 1))} {budget}")
