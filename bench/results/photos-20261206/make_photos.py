"""Seeded folders of JPEG "photos" of many sizes and shapes, the kind a practitioner brings: class
c has stripes of frequency (c + 1) * 0.02 (or 0.015) in one colour channel over a random tint and
noise. Usage: python make_photos.py OUT CLASSES PER_CLASS MIN_SIDE MAX_SIDE SEED."""

from __future__ import annotations

import os
import sys

import numpy as np
from PIL import Image


def make(out: str, classes: int, per_class: int, lo: int, hi: int, seed: int) -> None:
    for c in range(classes):
        rng = np.random.default_rng([seed, c])
        os.makedirs(f"{out}/c{c}", exist_ok=True)
        for i in range(per_class):
            h, w = (int(v) for v in rng.integers(lo, hi, 2))
            yy, xx = np.mgrid[0:h, 0:w]
            img = np.zeros((h, w, 3), np.float32) + rng.random(3) * 80
            f = (c + 1) * (0.02 if classes <= 5 else 0.015)
            img[..., c % 3] += 120 * (np.sin(xx * f + yy * f * rng.random() + rng.random() * 6) > 0)
            img += rng.normal(0, 20, img.shape)
            Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(f"{out}/c{c}/{i}.jpg", quality=85)


if __name__ == "__main__":
    out, classes, per_class, lo, hi, seed = sys.argv[1], *map(int, sys.argv[2:7])
    make(out, classes, per_class, lo, hi, seed)
