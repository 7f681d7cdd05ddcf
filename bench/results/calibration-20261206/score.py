"""Score one run's calibration on a held-out test folder: accuracy, NLL, ECE and the share labelled
(and its accuracy) at --min-confidence 0.8 / 0.9 / 0.95, with the run's temperature and without it.

    python score.py RUN_DIR TEST_FOLDER LABEL   -> one JSON line on stdout
"""
import json
import math
import sys

from nasoa.app.predict import calibration_error, confident, load_run, predict

run, test, label = sys.argv[1:4]
_, classes, spec = load_run(run)
manifest = json.load(open(f"{run}/manifest.json"))
row = {"label": label, "model": spec["name"], "temperature": spec["temperature"],
       "val": manifest["result"]["calibration"], "val_accuracy": manifest["result"]["val_accuracy"]}
for name, calibrated in (("calibrated", True), ("raw", False)):
    preds = predict(run, [test], top_k=len(classes), calibrated=calibrated)
    nll = -sum(math.log(max(dict(p.top)[p.folder_class], 1e-12)) for p in preds) / len(preds)
    row[name] = {"images": len(preds), "accuracy": sum(p.label == p.folder_class for p in preds) / len(preds),
                 "nll": nll, "ece": calibration_error(preds),
                 "confident": {str(c): confident(preds, c) for c in (0.8, 0.9, 0.95)}}
print(json.dumps(row))
