"""Static int8 quantisation of an exported run (onnxruntime QDQ, per-channel weights), against the float
export: test accuracy, label agreement and one-thread latency. Not shipped (README.md here).

    nasoa data export "builtin:fashion?classes=0,1,2,3,4,6&per_class=100" fdata
    nasoa train fdata -m etnas_z2 -b 25s --out r25s && nasoa export r25s
    python int8_probe.py r25s fdata     # writes /tmp/q/pre.onnx and /tmp/q/int8.onnx
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image

run, data = Path(sys.argv[1]), Path(sys.argv[2])
meta = json.load(open(run / "export/model.onnx.json"))
size, mode = meta["input"]["size"], "L" if meta["input"]["channels"] == 1 else "RGB"


def load(paths):
    return np.stack([np.asarray(Image.open(p).convert(mode).resize((size, size), Image.BILINEAR), np.uint8)
                     .reshape(size, size, -1) for p in paths])


val = sorted((data / "val").rglob("*.png"))
test = sorted((data / "test").rglob("*.png"))[::5]
xv, xt = load(val), load(test)
yt = np.array([meta["classes"].index(p.parent.name) for p in test])


class Reader(CalibrationDataReader):
    def __init__(self):
        self.it = iter([{"images": xv[i:i + 32]} for i in range(0, len(xv), 32)])

    def get_next(self):
        return next(self.it, None)


src, work = run / "export/model.onnx", Path("/tmp/q")
work.mkdir(exist_ok=True)
quant_pre_process(str(src), str(work / "pre.onnx"))
t = time.time()
quantize_static(str(work / "pre.onnx"), str(work / "int8.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                op_types_to_quantize=["Conv", "MatMul", "Gemm", "Add", "Mul"])
print("quantize s", time.time() - t)
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
fp32, int8 = (ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"]) for p in (src, work / "int8.onnx"))
pa, pb = (s.run(["probabilities"], {"images": xt})[0] for s in (fp32, int8))
print("acc fp32", (pa.argmax(1) == yt).mean(), "int8", (pb.argmax(1) == yt).mean(),
      "agree", (pa.argmax(1) == pb.argmax(1)).mean(), "maxdiff", np.abs(pa - pb).max())
for bs in (1, 64):
    for name, s in (("fp32", fp32), ("int8", int8)):
        for _ in range(3):
            s.run(None, {"images": xt[:bs]})
        t, n = time.perf_counter(), 0
        while time.perf_counter() - t < 2:
            s.run(None, {"images": xt[:bs]})
            n += 1
        print(bs, name, round((time.perf_counter() - t) / n * 1000, 3), "ms")
