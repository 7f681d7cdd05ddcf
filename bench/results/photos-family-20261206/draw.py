"""Draw this folder's bench tasks once (random.Random(20261206)): four tasks of builtin:photos, after
the family's code was committed (b6806d9), before any of them was run.
    python bench/results/photos-family-20261206/draw.py > bench/results/photos-family-20261206/tasks.txt
"""
import random

rng = random.Random(20261206)
print("# Four builtin:photos tasks drawn once by draw.py (random.Random(20261206)), never looked at before their run.")
for seed in range(401, 405):
    k = rng.randint(4, 10)
    classes = ",".join(str(c) for c in sorted(rng.sample(range(20), k)))
    print(f"builtin:photos?classes={classes}&per_class={rng.choice([20, 30, 60])}&size={rng.choice([32, 48, 64])}"
          f"&seed={seed}")
