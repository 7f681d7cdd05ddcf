"""The one image decoder: how an image file becomes a task's image, for training (ImageFolder and
CSV tasks), ``nasoa predict`` (:func:`load_images`), ``nasoa data show`` and the meta-features
(which read the tasks it makes). Alpha on white, 16-bit rescaled, resized as the task asks, then
brought to the task's frame and channels."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasoa.core.data.task import DataError, resize_uint8


@dataclass
class _Decoded:
    array: np.ndarray | None  # H x W (grey) or H x W x 3
    error: str | None = None
    downscaled: bool = False
    kept: bool = False  # at the ``keep`` size asked for, so not resized


def _to_l_or_rgb(im: Any) -> Any:
    from PIL import Image  # lazy: PIL; Pillow loads only when files are decoded (start-up speed)

    mode = im.mode
    if mode in ("L", "RGB"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I") or mode == "F":
        a = np.asarray(im, dtype=np.float64)
        hi = float(a.max()) if a.size else 0.0
        if hi > 255:
            a = a * (255.0 / (65535.0 if hi <= 65535 else hi))
        return Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8))
    if "A" in mode or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        background.alpha_composite(rgba)
        return background.convert("RGB")
    return im.convert("RGB")


def _decode_one(path: str, max_side: int, size: int | None, keep: int | None = None) -> _Decoded:
    """One image file as uint8 H x W (grey) or H x W x 3: the decoder of every image nasoa reads.

    An EXIF orientation is applied (Pillow's ``exif_transpose``), alpha composited on white and
    16-bit rescaled (:func:`_to_l_or_rgb`); then the image is resized to ``size`` x ``size`` (a
    task's ``?size=``), or shrunk to ``max_side`` on its longest side. An image of exactly ``keep``
    x ``keep`` px is returned as decoded, never resized (:func:`load_images`: a file already at a
    model's input size is that input).
    """
    from PIL import Image, ImageOps  # lazy: PIL; Pillow loads only when files are decoded (start-up speed)

    try:
        with Image.open(path) as im:
            as_is = keep is not None and im.size == (keep, keep)
            downscaled = not as_is and size is None and max(im.size) > max_side
            target = size if size is not None else max_side
            if not as_is and im.format == "JPEG" and max(im.size) > 2 * target:  # decode at a reduced scale
                im.draft("RGB" if im.mode not in ("L", "1") else "L", (target, target))
            im.load()
            try:  # upright as a viewer shows it: a phone photo's pixels are stored as the sensor read them
                ImageOps.exif_transpose(im, in_place=True)
            except Exception:  # noqa: BLE001 - a malformed EXIF block leaves the pixels as stored, still readable
                pass
            im = _to_l_or_rgb(im)
            if as_is:
                pass
            elif size is not None:
                im = im.resize((size, size), Image.Resampling.BILINEAR)
            elif max(im.size) > max_side:
                im.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
            a = np.asarray(im)
    except FileNotFoundError:
        return _Decoded(None, "file not found")
    except Exception as e:  # Pillow raises many types for corrupt data  # noqa: BLE001
        reason = " ".join(str(e).split())[:120] or type(e).__name__
        return _Decoded(None, reason)
    if a.ndim == 3 and (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all():
        a = a[..., 0]  # grey content stored as RGB
    return _Decoded(np.ascontiguousarray(a), None, downscaled, as_is)


def _threaded(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``fn`` over ``items`` in order, on threads for 64 items or more: Pillow releases the GIL
    while it decodes and resizes."""
    if len(items) < 64:
        return [fn(v) for v in items]
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as ex:
        return list(ex.map(fn, items))


def _decode_many(paths: Sequence[str], max_side: int, size: int | None, keep: int | None = None) -> list[_Decoded]:
    return _threaded(lambda p: _decode_one(p, max_side, size, keep), paths)


def _fit_frame(a: np.ndarray, h: int, w: int, fit: str = "stretch") -> np.ndarray:
    """A decoded image at h x w, bilinear: ``stretch`` resizes it to the frame (an odd image in a
    folder of one size); ``crop`` resizes it on its shorter side and centre-crops, keeping its shape
    (a folder of photos of many sizes; Pillow's ``ImageOps.fit``)."""
    from PIL import Image, ImageOps  # lazy: PIL; Pillow loads only when files are decoded (start-up speed)

    if a.shape[:2] == (h, w):
        return a
    if fit == "crop":
        return np.asarray(ImageOps.fit(Image.fromarray(a), (w, h), method=Image.Resampling.BILINEAR))
    return np.asarray(Image.fromarray(a).resize((w, h), Image.Resampling.BILINEAR))


def _stack(arrays: list[np.ndarray], h: int, w: int, channels: int, fit: str = "stretch") -> np.ndarray:
    """Decoded images as one uint8 N x C x H x W array, as a task holds them: each brought to h x w
    (:func:`_fit_frame`, by ``fit``) and to ``channels`` (grey repeated to RGB; colour to grey with
    Pillow's "L", which only an image handed to a grey task's model needs: a task with any colour
    image is colour)."""
    from PIL import Image  # lazy: PIL; Pillow loads only when files are decoded (start-up speed)

    out = np.empty((len(arrays), channels, h, w), np.uint8)

    def put(i: int) -> None:
        a = _fit_frame(arrays[i], h, w, fit)
        if a.ndim == 3 and channels == 1:
            a = np.asarray(Image.fromarray(a).convert("L"))
        out[i] = a.transpose(2, 0, 1) if a.ndim == 3 else a[None]  # a grey image broadcasts to 3 channels

    _threaded(put, range(len(arrays)))
    return out


def load_images(paths: Sequence[str | Path], image_format: dict | None = None, size: int | None = None) -> torch.Tensor:
    """Image files as uint8 N x C x H x W, made the way a task's images were made from its files.

    ``image_format`` is a task's ``info["image_format"]`` (a run's manifest keeps it under
    ``model.image_format``). Each file takes the task's own steps: decoded by :func:`_decode_one`
    (alpha composited on white, 16-bit rescaled, palettes expanded, ``?size=`` and ``max_side``
    applied), brought to the task's image size (``frame``: stretched, or with ``fit`` "crop"
    resized on its shorter side and centre-cropped) and channels by :func:`_stack`, as a
    mixed-size or mixed-colour folder's images are, then resized to ``size`` by
    :func:`resize_uint8`, as :meth:`TaskData.resized` brings a task to a model's input. A file that
    is already ``size`` x ``size`` is the model's input itself (say a resized task's image saved
    to disk) and only takes the channels: sending it through a smaller frame and back would blur
    it. An unreadable file (corrupt, missing, a decompression bomb) is a one-line :class:`DataError`.
    """
    fmt = dict(image_format or {})
    max_side = int(fmt.get("max_side") or 512)
    decode_size = fmt.get("decode_size")
    channels = int(fmt.get("channels") or 3)
    frame = tuple(int(v) for v in fmt["frame"]) if fmt.get("frame") else None
    fit = str(fmt.get("fit") or "stretch")  # a run from before 2026-12-06 stretched every image
    keep = int(size) if size is not None else None
    arrays, at_input = [], []
    for p, d in zip(paths, _decode_many([str(p) for p in paths], max_side, decode_size, keep)):
        if d.array is None:
            raise DataError(f"{p} is not a readable image ({d.error}); pass a PNG, JPEG or other image file")
        arrays.append(d.array)
        at_input.append(d.kept)
    if not arrays:
        raise DataError("no images given; pass at least one image file")
    rest = [a for a, k in zip(arrays, at_input) if not k]
    if frame is None and rest:  # an old run's manifest, without a frame: the first image's size
        frame = rest[0].shape[:2]
    out = torch.empty((len(arrays), channels, *((keep, keep) if keep is not None else frame)), dtype=torch.uint8)
    if rest:
        idx = [i for i, k in enumerate(at_input) if not k]
        x = torch.from_numpy(_stack(rest, frame[0], frame[1], channels, fit))
        out[idx] = resize_uint8(x, keep) if keep is not None else x
    if any(at_input):
        idx = [i for i, k in enumerate(at_input) if k]
        out[idx] = torch.from_numpy(_stack([a for a, k in zip(arrays, at_input) if k], keep, keep, channels))
    return out
