"""The README's onnxruntime recipe against `nasoa predict`, on a task's exported test images.

    python recipe.py RUN_DIR TEST_FOLDER     # prints how many labels agree, as one JSON line

The recipe prepares each image with Pillow alone (EXIF orientation, colour, the framing the export's
description names, a bilinear resize to the input size) and runs the exported ONNX file; `nasoa
predict` reads the same files its own way. Counted: images whose labels agree, and the largest
difference in the chosen class's probability.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

from nasoa.app.predict import predict

run, folder = Path(sys.argv[1]), Path(sys.argv[2])
meta = json.loads((run / "export" / "model.onnx.json").read_text())
size, mode = meta["input"]["size"], "L" if meta["input"]["channels"] == 1 else "RGB"
session = ort.InferenceSession(str(run / "export" / "model.onnx"), providers=["CPUExecutionProvider"])


def prepare(path: Path) -> np.ndarray:  # the README's recipe, line for line
    im = ImageOps.exif_transpose(Image.open(path)).convert(mode)
    if meta["before_the_model"]["fit"] == "crop":
        im = ImageOps.fit(im, (size, size), Image.BILINEAR)
    else:
        im = im.resize((size, size), Image.BILINEAR)
    return np.asarray(im, np.uint8).reshape(size, size, -1)


files = sorted(folder.rglob("*.png"))
probs, _ = session.run(None, {"images": np.stack([prepare(p) for p in files])})
ours = predict(run, files, top_k=1)
same = sum(meta["classes"][i] == p.label for i, p in zip(probs.argmax(1), ours))
gap = max(abs(float(probs[k, meta["classes"].index(p.label)]) - p.probability) for k, p in enumerate(ours))
print(json.dumps({"run": run.name, "images": len(files), "frame": meta["before_the_model"]["frame"],
                  "input": size, "same_label": same, "max_abs_diff_probability": round(gap, 4)}))
