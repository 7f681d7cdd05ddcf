"""Classify new images with a fine-tuned run (``nasoa predict RUN_DIR IMAGE_OR_FOLDER...``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from nasoa.core.errors import NasoaError
from nasoa.core.data import Batches, DataError, load_images
from nasoa.core.data.export import class_folder_names
from nasoa.core.data.files import IMAGE_EXTENSIONS, images_under
from nasoa.core.models import create_model
from nasoa.core.train.calibrate import confidence_error

#: Images decoded and classified at a time: a folder of any size is read in bounded memory.
CHUNK = 512


@dataclass(frozen=True)
class Prediction:
    path: str
    label: str
    probability: float
    top: list[tuple[str, float]]
    #: The class named by the folder the image lies in (``OUT/test/cat/1.png``: ``cat``), when it names one.
    folder_class: str | None = None


def image_files(paths: list[str | Path]) -> list[Path]:
    """What to classify: each file as given; each folder's image files as an ImageFolder scan reads
    them (:func:`nasoa.core.data.files.images_under`)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            out.append(p)
            continue
        found = images_under(p)
        if not found:
            raise DataError(f"{p} holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}); pass image files or "
                            f"a folder of them")
        out += map(Path, found)
    return out


def accuracy(preds: list[Prediction]) -> tuple[int, int] | None:
    """(right, of) when every image lies in a folder named after one of the run's classes (an
    ImageFolder split, say ``nasoa data export``'s ``test/``), else None."""
    if not preds or any(p.folder_class is None for p in preds):
        return None
    return sum(p.label == p.folder_class for p in preds), len(preds)


def calibration_error(preds: list[Prediction]) -> float | None:
    """The expected calibration error of the predictions' top probabilities against the classes their
    folders name (:func:`nasoa.core.train.calibrate.confidence_error`); None unless every image lies in
    a class's folder (:func:`accuracy`)."""
    if accuracy(preds) is None:
        return None
    return confidence_error(torch.tensor([p.probability for p in preds], dtype=torch.float64),
                            torch.tensor([float(p.label == p.folder_class) for p in preds], dtype=torch.float64))


def confident(preds: list[Prediction], min_confidence: float) -> dict[str, Any]:
    """What labelling only the images whose top probability is at least ``min_confidence`` gives:
    ``labelled`` and ``left`` (for review) counts, and the ``accuracy`` on the labelled ones (None
    unless every image lies in a class's folder, or when none is labelled)."""
    kept = [p for p in preds if p.probability >= min_confidence]
    scored = accuracy(kept) if accuracy(preds) is not None else None
    return {"min_confidence": min_confidence, "images": len(preds), "labelled": len(kept),
            "left": len(preds) - len(kept), "accuracy": scored[0] / scored[1] if scored else None}


def per_class(preds: list[Prediction]) -> list[dict[str, Any]] | None:
    """Per class of the folders the images lie in, in the order they first appear: ``images``,
    ``right``, ``recall``, ``precision`` (of the images labelled that class, the share right; None
    when none was) and ``taken_for``/``taken_for_images``, the class its images are most often
    mislabelled as (None when never); None unless every image lies in a class's folder
    (:func:`accuracy`)."""
    if accuracy(preds) is None:
        return None
    from sklearn.metrics import confusion_matrix  # lazy: scikit-learn; only a labelled folder reads it

    truth, guess = [p.folder_class for p in preds], [p.label for p in preds]
    labels = list(dict.fromkeys(truth + guess))
    cm = confusion_matrix(truth, guess, labels=labels)
    rows = []
    for i, name in enumerate(labels):
        n = int(cm[i].sum())
        if n == 0:
            continue
        off = cm[i].copy()
        off[i] = 0
        j = int(off.argmax())
        labelled = int(cm[:, i].sum())
        rows.append({"class": name, "images": n, "right": int(cm[i, i]), "recall": float(cm[i, i] / n),
                     "precision": float(cm[i, i] / labelled) if labelled else None,
                     "taken_for": labels[j] if off[j] else None, "taken_for_images": int(off[j])})
    return rows


def load_run(run_dir: str | Path):
    """The fine-tuned model of a run dir, its class names and its input spec (the manifest's ``model``
    block, plus the ``temperature`` its probabilities are divided by: the run's calibration, 1.0 for
    a run recorded without one)."""
    run = Path(run_dir)
    for f in ("manifest.json", "model.safetensors", "classes.json"):
        if not (run / f).is_file():
            raise NasoaError(f"{run} is not a finished run dir (no {f}); pass the --out dir of `nasoa train` or "
                             f"`nasoa adapt`")
    try:
        manifest = json.loads((run / "manifest.json").read_text())
        classes = json.loads((run / "classes.json").read_text())
        spec = manifest["model"]
        name = spec.get("encoding") or spec["name"]
        input_size = int(spec["input_size"])
        if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
            raise ValueError("classes.json does not list the class names")
        temperature = float(((manifest.get("result") or {}).get("calibration") or {}).get("temperature") or 1.0)
        if not 0 < temperature < float("inf"):
            raise ValueError(f"its calibration temperature is {temperature}")
        spec = {**spec, "temperature": temperature}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        what = f"no {e}" if isinstance(e, KeyError) else " ".join(str(e).split())[:200]
        raise NasoaError(f"the manifest or classes of {run} are unreadable ({what}); the run dir is damaged: train "
                         f"again, or pass another run dir") from None
    model = create_model(name, pretrained=False, num_classes=len(classes), input_size=input_size)
    try:
        model.load_state_dict(load_file(run / "model.safetensors"))
    except (SafetensorError, RuntimeError, OSError) as e:
        raise NasoaError(f"cannot load {run / 'model.safetensors'}: {str(e).splitlines()[0]}") from None
    model.eval()
    return model, classes, spec


def probabilities(model, spec: dict, x: torch.Tensor, tta: bool = False) -> torch.Tensor:
    """Class probabilities of uint8 N x C x H x W images at the model's input size, normalised as the
    trainer evaluated (:class:`nasoa.core.data.Batches`, with the run's ``spec`` mean and std) and
    fed in channels_last, 256 at a time: the softmax of the logits divided by ``spec``'s
    ``temperature`` (:func:`load_run`; 1.0 when absent). With ``tta``, the mean of the image's and
    its mirror image's probabilities (test-time augmentation; see :func:`check_tta`)."""
    if tta:
        return (probabilities(model, spec, x) + probabilities(model, spec, x.flip(3))) / 2
    temperature = float(spec.get("temperature", 1.0))
    batches = Batches(x, torch.zeros(len(x), dtype=torch.long), batch_size=256, shuffle=False, augment=False,
                      mean=spec.get("mean", (0.5, 0.5, 0.5)), std=spec.get("std", (0.5, 0.5, 0.5)), channels=3,
                      channels_last=True)
    probs = []
    with torch.inference_mode():
        for xb, _ in batches.epoch(0):
            logits = model(xb.contiguous(memory_format=torch.channels_last)).float()
            probs.append(torch.softmax(logits / temperature, 1))
    return torch.cat(probs)


def check_tta(run_dir: str | Path, spec: dict) -> None:
    """Refuse test-time augmentation for a run that trained without horizontal flips (its task's
    classes may change when mirrored, as digits and letters do); a run recorded before the manifest
    said (no ``hflip``) is taken to have trained with them, the trainer's default."""
    if spec.get("hflip") is False:
        raise NasoaError(f"the run in {run_dir} trained without horizontal flips (its classes may change when "
                         f"mirrored, as digits do), so --tta would average in images it never learned; leave "
                         f"out --tta")


def predict(run_dir: str | Path, images: list[str | Path], top_k: int = 3,
            calibrated: bool = True, tta: bool = False) -> list[Prediction]:
    """Label and top-k classes of each image, as the run's model sees it; the probabilities are the
    run's calibrated ones (its temperature, :mod:`nasoa.core.train.calibrate`) unless ``calibrated``
    is False (the labels are the same either way). ``tta``: average each image's probabilities
    with its mirror image's (twice the compute; :func:`check_tta` refuses runs trained without flips).

    The images go through the trainer's input path: the decoder that made the run's task
    (:func:`nasoa.core.data.load_images`, with the task's image format from the manifest), the resize
    to the model's input (:func:`nasoa.core.data.resize_uint8`; an image already at the input size is
    used as it is) and the normalisation of :class:`nasoa.core.data.Batches`, in channels_last as the
    trainer evaluates; so an image of the run's validation split, as a file of the task or as the
    model saw it, gets the prediction the run's validation accuracy counted. A folder stands for
    its images (:func:`image_files`), read :data:`CHUNK` at a time; each prediction carries the class
    its folder names, if any, for :func:`accuracy`.
    """
    model, classes, spec = load_run(run_dir)
    if not calibrated:
        spec = {**spec, "temperature": 1.0}
    if tta:
        check_tta(run_dir, spec)
    files = image_files(images)
    fmt = spec.get("image_format") or {"channels": spec.get("channels", 3)}  # runs made before it was recorded
    by_folder = {**dict(zip(class_folder_names(classes), classes)), **{c: c for c in classes}}
    model.to(memory_format=torch.channels_last)
    k = min(top_k, len(classes))
    out = []
    for start in range(0, len(files), CHUNK):
        chunk = files[start:start + CHUNK]
        probs = probabilities(model, spec, load_images(chunk, fmt, size=int(spec["input_size"])), tta=tta)
        for path, p in zip(chunk, probs):
            pv, pi = p.topk(k)
            top = [(classes[i], float(v)) for v, i in zip(pv.tolist(), pi.tolist())]
            out.append(Prediction(str(path), top[0][0], top[0][1], top, by_folder.get(path.parent.name)))
    return out
