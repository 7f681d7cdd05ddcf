"""Classify new images with a fine-tuned run (``nasoa predict RUN_DIR IMAGE...``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import NasoaError


@dataclass(frozen=True)
class Prediction:
    path: str
    label: str
    probability: float
    top: list[tuple[str, float]]


def load_run(run_dir: str | Path):
    """The fine-tuned model of a run dir, its class names and its input spec."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .models import create_model

    run = Path(run_dir)
    for f in ("manifest.json", "model.safetensors", "classes.json"):
        if not (run / f).is_file():
            raise NasoaError(f"{run} is not a finished run dir (no {f}); pass the --out dir of `nasoa train` or `nasoa adapt`")
    try:
        manifest = json.loads((run / "manifest.json").read_text())
        classes = json.loads((run / "classes.json").read_text())
        spec = manifest["model"]
    except (ValueError, KeyError) as e:
        raise NasoaError(f"the manifest of {run} is unreadable ({e}); the run dir is damaged") from None
    name = spec.get("encoding") or spec["name"]
    model = create_model(name, pretrained=False, num_classes=len(classes), input_size=spec["input_size"])
    try:
        model.load_state_dict(load_file(run / "model.safetensors"))
    except (SafetensorError, RuntimeError, OSError) as e:
        raise NasoaError(f"cannot load {run / 'model.safetensors'}: {str(e).splitlines()[0]}") from None
    model.eval()
    return model, classes, spec


def predict(run_dir: str | Path, images: list[str | Path], top_k: int = 3) -> list[Prediction]:
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    model, classes, spec = load_run(run_dir)
    size = spec["input_size"]
    grey = spec.get("channels", 3) == 1
    mean = torch.tensor(spec.get("mean", [0.5] * 3)).view(1, 3, 1, 1)
    std = torch.tensor(spec.get("std", [0.5] * 3)).view(1, 3, 1, 1)
    out = []
    for path in images:
        p = Path(path)
        if not p.is_file():
            raise NasoaError(f"image {p} does not exist")
        try:
            with Image.open(p) as im:
                im = im.convert("L" if grey else "RGB").resize((size, size), Image.BILINEAR)
                arr = np.asarray(im, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError) as e:
            raise NasoaError(f"{p} is not a readable image ({e.__class__.__name__}); pass PNG/JPEG files") from None
        x = torch.from_numpy(arr)
        x = x.expand(3, size, size)[None] if grey else x.permute(2, 0, 1)[None]
        with torch.inference_mode():
            probs = torch.softmax(model((x - mean) / std).float(), 1)[0]
        k = min(top_k, len(classes))
        pv, pi = probs.topk(k)
        top = [(classes[i], float(v)) for v, i in zip(pv.tolist(), pi.tolist())]
        out.append(Prediction(str(p), top[0][0], top[0][1], top))
    return out
