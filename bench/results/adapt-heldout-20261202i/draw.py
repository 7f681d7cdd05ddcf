"""Draw the fresh tasks of this folder once (random.Random(20261203)): two per family of the four
generated families, new classes, sizes, per-class counts and seeds, after the code was settled.
    python bench/results/adapt-heldout-20261202i/draw.py > bench/results/adapt-heldout-20261202i/tasks-fresh2.txt
"""
import random

rng = random.Random(20261203)
n_classes = {"textures": 50, "fractals": 40, "noise": 40, "shapes": 30}
print("# Fresh tasks drawn once by draw.py (random.Random(20261203)) after the seventh session's code was settled;")
print("# the same four generated families as ../adapt-heldout-20261202h/, never looked at before their run.")
seed = 301
for fam, n in n_classes.items():
    for _ in range(2):
        k = rng.randint(4, 10)
        classes = ",".join(str(c) for c in sorted(rng.sample(range(n), k)))
        print(f"builtin:{fam}?classes={classes}&per_class={rng.choice([20, 30, 60])}&size={rng.choice([32, 48, 64])}"
              f"&seed={seed}")
        seed += 1
