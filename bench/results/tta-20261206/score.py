"""Score one run on a held-out test folder with and without mirror-image test-time augmentation:
accuracy, NLL and ECE of the calibrated probabilities, and the seconds predict took.

    python score.py RUN_DIR TEST_FOLDER LABEL   -> one JSON line on stdout
"""
import json
import math
import sys
import time

from nasoa.app.predict import calibration_error, load_run, predict

run, test, label = sys.argv[1:4]
_, classes, spec = load_run(run)
manifest = json.load(open(f"{run}/manifest.json"))
row = {"label": label, "model": spec["name"], "hflip": spec.get("hflip"), "val_accuracy": manifest["result"]["val_accuracy"]}
for name, tta in (("plain", False), ("tta", True)):
    t = time.perf_counter()
    preds = predict(run, [test], top_k=len(classes), tta=tta)
    row[name] = {"images": len(preds), "seconds": round(time.perf_counter() - t, 2),
                 "accuracy": sum(p.label == p.folder_class for p in preds) / len(preds),
                 "nll": -sum(math.log(max(dict(p.top)[p.folder_class], 1e-12)) for p in preds) / len(preds),
                 "ece": calibration_error(preds)}
print(json.dumps(row))
