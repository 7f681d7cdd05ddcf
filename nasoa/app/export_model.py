"""Export a fine-tuned run for serving without nasoa (``nasoa export RUN_DIR``).

The exported model takes what an image library gives: uint8 images, batch x height x width x
channels, at the model's input size, in the run's colour (1 channel for a grey task, 3 for RGB). The
normalisation the trainer applied (scale to [0, 1], mean and std per channel, grey spread to three
channels) is inside the graph, so a server cannot get it wrong; it returns the class probabilities
and the logits. A JSON file beside it says the rest: the class names in output order, the input's
shape and colour, how nasoa framed images before the resize, and the check below.

Two formats: ONNX (onnxruntime, TensorRT, OpenVINO, ...; torch's exporter, ``torch.onnx.export(...,
dynamo=True)``, which needs the ``onnx`` and ``onnxscript`` packages) and a torch.export program
(``.pt2``: ``torch.export.load(path).module()``, plain torch, no nasoa). The batch size is free in both.

Every export is checked before it is written in place: seeded random images go through the exported
file (onnxruntime, or ``torch.export.load``) and through the run's model exactly as ``nasoa predict``
feeds it (:func:`nasoa.app.predict.probabilities`), as a batch of one and a batch of the
rest (the batch size is free), and the export is refused if a probability differs by more than
:data:`TOLERANCE`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nasoa.core.errors import NasoaError, first_line
from nasoa.core.provenance import provenance
from nasoa.core.runtime import atomic_write_json

from .predict import check_tta, load_run, probabilities

FORMATS = ("onnx", "pt2")
#: Largest difference in any class probability between the exported file and the run's model.
TOLERANCE = 1e-4
#: The ONNX opset written by default (onnxruntime >= 1.14 runs it).
OPSET = 18
INPUT, OUTPUTS = "images", ("probabilities", "logits")


class Deployable(nn.Module):
    """The run's network behind the trainer's input step: uint8 N x H x W x C in, ``(probabilities,
    logits)`` out. The arithmetic is :class:`nasoa.core.data.Batches`' (``x * 1/(255 std) - mean/std``,
    grey broadcast to the three channels the network takes), so the outputs match ``nasoa predict``'s
    to float rounding. ``logits`` are the network's divided by the run's calibration ``temperature``
    (:mod:`nasoa.core.train.calibrate`), so that ``probabilities`` is their softmax. With ``tta`` the
    probabilities are the mean of the image's and its mirror image's (as ``nasoa predict --tta``) and
    ``logits`` their logarithm."""

    def __init__(self, net: nn.Module, mean: list[float], std: list[float], temperature: float = 1.0,
                 tta: bool = False):
        super().__init__()
        self.net, self.tta = net, tta
        self.register_buffer("scale", torch.tensor([1.0 / (255.0 * s) for s in std]).view(1, 3, 1, 1))
        self.register_buffer("shift", torch.tensor([-m / s for m, s in zip(mean, std)]).view(1, 3, 1, 1))
        self.register_buffer("inv_temperature", torch.tensor(1.0 / float(temperature)))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.addcmul(self.shift, images.permute(0, 3, 1, 2).float(), self.scale)
        logits = self.net(x) * self.inv_temperature
        if not self.tta:
            return torch.softmax(logits, dim=1), logits
        probs = (torch.softmax(logits, dim=1) + torch.softmax(self.net(x.flip(3)) * self.inv_temperature, dim=1)) / 2
        return probs, torch.log(probs)


def default_out(run_dir: str | Path, fmt: str) -> Path:
    """``RUN_DIR/export/model.onnx`` (or ``.pt2``): a folder to copy to a server as it is."""
    return Path(run_dir) / "export" / f"model.{fmt}"


def description_path(model_path: str | Path) -> Path:
    """The JSON description beside an exported file: ``model.onnx`` -> ``model.onnx.json``."""
    p = Path(model_path)
    return p.with_name(p.name + ".json")


def _norm(spec: dict, key: str, default: float) -> list[float]:
    vals = [float(v) for v in (spec.get(key) or (default,) * 3)]
    return (vals * 3)[:3] if len(vals) == 1 else vals[:3]


def _run_check(kind: str, path: Path, images: np.ndarray) -> np.ndarray:
    """The exported file's probabilities for ``images`` (uint8 N x H x W x C)."""
    if kind == "onnx":
        import onnxruntime as ort  # lazy: onnxruntime is optional (nasoa[export]); only the check reads it

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, torch.get_num_threads())
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return session.run([OUTPUTS[0]], {INPUT: images})[0]
    program = torch.export.load(str(path))
    with torch.inference_mode():
        return program.module()(torch.from_numpy(images))[0].numpy()


def _write(kind: str, wrapped: nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    batch = torch.export.Dim("batch", min=1)
    shapes = ({0: batch},)
    noise = io.StringIO()  # torch's exporter reports progress on stdout; only a failure shows it
    try:
        with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "onnx":
                torch.onnx.export(wrapped, (example,), str(path), dynamo=True, opset_version=opset,
                                  input_names=[INPUT], output_names=list(OUTPUTS), dynamic_shapes=shapes,
                                  verbose=False, external_data=False)
            else:
                torch.export.save(torch.export.export(wrapped, (example,), dynamic_shapes=shapes), str(path))
    except ImportError as e:
        raise NasoaError(f"ONNX export needs the onnx and onnxscript packages ({first_line(e)}); install them "
                         f"with `pip install 'nasoa[export]'`, or pass --format pt2") from None
    except Exception as e:  # the exporters raise many types; a user needs the first line, not the trace
        raise NasoaError(f"torch could not export the model as {kind} ({first_line(e)[:300]}); try the other "
                         f"--format") from None


def _run_status(run_dir: str | Path) -> str:
    """The run's manifest status; a diverged run, or one that never finished, has no model to serve.
    An interrupted run's weights are what it had learned when stopped: exported, and the description
    says so."""
    status = str(json.loads((Path(run_dir) / "manifest.json").read_text()).get("status") or "done")
    if status == "diverged":
        raise NasoaError(f"the run in {run_dir} diverged (its loss became NaN or inf), so its model is not worth "
                         f"serving; train again with a lower --lr")
    if status == "running":
        raise NasoaError(f"the run in {run_dir} is still running, or was killed before it finished; wait for it, "
                         f"or export a finished run")
    return status


def _onnx_runtime() -> str | None:
    try:
        import onnxruntime  # lazy: optional (nasoa[export]); the check runs when it is there
    except ImportError:
        return None
    return f"onnxruntime {onnxruntime.__version__}"


def export_run(run_dir: str | Path, out: str | Path | None = None, fmt: str = "onnx", opset: int = OPSET,
               check_images: int = 8, seed: int = 0, tta: bool = False) -> dict[str, Any]:
    """Write the run's model as ``fmt`` to ``out`` (default :func:`default_out`) and its description
    beside it (:func:`description_path`); return that description, with ``path`` and ``description``
    added.

    The file is written to a temporary name in ``out``'s folder and renamed into place only after the
    check passed, so a failed export leaves an earlier one as it was. Raises :class:`NasoaError` for
    a damaged run dir, an unknown format, a missing exporter or a check that fails.
    """
    t0 = time.perf_counter()
    if fmt not in FORMATS:
        raise NasoaError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    model, classes, spec = load_run(run_dir)
    status = _run_status(run_dir)
    if tta:
        check_tta(run_dir, spec)
    path = Path(out) if out is not None else default_out(run_dir, fmt)
    meta_path = description_path(path)
    if path.suffix.lower() == ".json" or path.name in ("", "."):
        raise NasoaError(f"--out {path} names the description file; pass the model's path, e.g. model.{fmt}")
    if path.is_dir():
        raise NasoaError(f"--out {path} is a folder; pass a file path, e.g. {path / f'model.{fmt}'}")
    size = int(spec["input_size"])
    fmt_info = spec.get("image_format") or {"channels": spec.get("channels", 3)}
    channels = int(fmt_info.get("channels") or spec.get("channels") or 3)
    mean, std = _norm(spec, "mean", 0.5), _norm(spec, "std", 0.5)
    model = model.to("cpu").float().eval()
    temperature = float(spec.get("temperature", 1.0))
    wrapped = Deployable(model, mean, std, temperature, tta).eval()
    rng = np.random.default_rng(seed)
    example = torch.from_numpy(rng.integers(0, 256, (2, size, size, channels), dtype=np.uint8))

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        tmp = tmp_dir / path.name
        t_export = time.perf_counter()
        _write(fmt, wrapped, example, tmp, opset)
        export_s = time.perf_counter() - t_export
        runtime = (_onnx_runtime() if fmt == "onnx" else f"torch {torch.__version__} (torch.export.load)")
        check: dict[str, Any] = {"images": 0, "runtime": runtime, "tolerance": TOLERANCE}
        if runtime is None:
            check["skipped"] = "onnxruntime is not installed (pip install 'nasoa[export]')"
        elif check_images <= 0:
            check["skipped"] = "no check images asked for (--check 0)"
        else:
            imgs = rng.integers(0, 256, (max(2, check_images), size, size, channels), dtype=np.uint8)
            try:
                got = np.concatenate([_run_check(fmt, tmp, imgs[:1]), _run_check(fmt, tmp, imgs[1:])])
            except Exception as e:  # a runtime that cannot load the file: say so in one line
                raise NasoaError(f"the exported {fmt} file does not run in {runtime} ({first_line(e)[:300]}); "
                                 f"try the other --format") from None
            want = probabilities(model, spec, torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous(), tta).numpy()
            diff = float(np.abs(got - want).max())
            same = int((got.argmax(1) == want.argmax(1)).sum())
            check.update(images=len(imgs), batch_sizes=[1, len(imgs) - 1], max_abs_diff=diff, same_top1=same)
            if not diff <= TOLERANCE:
                raise NasoaError(f"the exported model's probabilities differ from the run's by {diff:.2g} (more "
                                 f"than {TOLERANCE:g}) on {len(imgs)} check images; nothing was written: try the "
                                 f"other --format")
        frame = fmt_info.get("frame")
        framing = "resized on its shorter side and centre-cropped" if fmt_info.get("fit") == "crop" else "stretched"
        info: dict[str, Any] = {
            "format": fmt,
            "file": path.name,
            **({"opset": opset} if fmt == "onnx" else {}),
            "bytes": tmp.stat().st_size,
            "run": str(Path(run_dir)),
            "run_status": status,
            "model": {k: spec[k] for k in ("name", "encoding", "family", "params") if k in spec},
            "classes": list(classes),
            "input": {"name": INPUT, "dtype": "uint8", "layout": "NHWC", "shape": ["batch", size, size, channels],
                      "colour": "grey" if channels == 1 else "RGB", "size": size, "channels": channels},
            "outputs": [{"name": OUTPUTS[0], "dtype": "float32", "shape": ["batch", len(classes)],
                         "meaning": "class probabilities, calibrated on the run's validation split"},
                        {"name": OUTPUTS[1], "dtype": "float32", "shape": ["batch", len(classes)],
                         "meaning": "the network's logits divided by the temperature: probabilities = "
                                    "softmax(logits)"}],
            "temperature": temperature,
            "tta": "each image's probabilities averaged with its mirror image's; logits = log(probabilities)"
                   if tta else None,
            "in_the_model": {"scale": "x / 255", "mean": mean, "std": std,
                             **({"grey": "the one channel is spread to the network's three"} if channels == 1
                                else {})},
            "before_the_model": {
                "decode": "EXIF orientation applied; alpha composited on white; "
                          + ("converted to grey (Pillow mode L)" if channels == 1 else "converted to RGB"),
                "frame": list(frame) if frame else None,
                "fit": fmt_info.get("fit") or "stretch",
                "resize": f"bilinear, antialiased, to {size} x {size}",
                "how": (f"nasoa brought every image to the frame (height x width) first ({framing}), then "
                        f"resized it to the input size; an image already {size} x {size} is used as it is"),
            },
            "check": check,
            "export_s": round(export_s, 2),
            "seconds": round(time.perf_counter() - t0, 2),
            "provenance": provenance(),
        }
        atomic_write_json(tmp_dir / meta_path.name, info)
        os.replace(tmp, path)  # the model, then its description: each rename is atomic
        os.replace(tmp_dir / meta_path.name, meta_path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    info["path"], info["description"] = str(path), str(meta_path)
    return info


def describe(info: dict[str, Any]) -> list[str]:
    """The lines ``nasoa export`` prints."""
    inp, check = info["input"], info["check"]
    lines = [f"{info['path']}: {info['format']} ({info['bytes'] / 1e6:.1f} MB) of {info['model'].get('name')}, "
             f"{len(info['classes'])} classes, exported in {info['export_s']:.1f}s",
             f"input '{inp['name']}': uint8 batch x {inp['size']} x {inp['size']} x {inp['channels']} "
             f"({inp['colour']}); "
             f"outputs '{info['outputs'][0]['name']}' and '{info['outputs'][1]['name']}' (batch x "
             f"{len(info['classes'])}); normalisation and calibration (temperature {info['temperature']:.3g}) "
             f"inside" + ("; mirror-image test-time augmentation inside" if info.get("tta") else "")]
    if info.get("run_status") == "interrupted":
        lines.append("note: the run was interrupted; this is the model as it was when it stopped")
    if check.get("skipped"):
        lines.append(f"not checked: {check['skipped']}")
    elif check.get("images"):
        lines.append(f"checked with {check['runtime']}: {check['images']} images, probabilities within "
                     f"{check['max_abs_diff']:.1g} of the run's model, top-1 the same on {check['same_top1']}")
    lines.append(f"classes, input and preprocessing: {info['description']}")
    return lines

