"""Procedurally generated task families: image statistics unlike the MNIST-like built-ins.

A user's task never comes from our built-in sources, so the experience the meta-model learns from
must cover data that differs the way users' data does: colour and grey, 16-96 px, textures, noise
fields, shapes on cluttered backgrounds, formula-driven (fractal) images, and corrupted or
recoloured versions of the real built-ins. Each family is a named, seeded generator used like a
built-in source (``builtin:NAME?classes=..&per_class=..&size=..&seed=..``), so tasks can be cut
from it at will; ``nasoa data list`` shows them.

Two kinds:

* **generated** (:data:`GENERATORS`): a class is a fixed recipe drawn from the family's own seed
  (class ``c`` of ``textures`` is the same texture in every task; of ``photos``, the same
  photograph); images are rendered at the task's ``size`` from per-image random draws. Train/val
  images of class ``c`` in a task with seed ``s`` come from the generator seeded ``(family, c, s)``;
  the test split from a fixed seed that no task uses, so test images never coincide with training
  ones.
* **variants** (:data:`VARIANTS`): a real grey built-in (Animal-MNIST, Fashion-MNIST, MNIST, UCI
  digits) recoloured on coloured, cluttered backgrounds (``-colour``) or hit by random corruptions
  (``-corrupt``: noise, blur, low contrast, occlusion, pixelation, salt and pepper). Each source
  image gets its own transformation seeded by ``(variant, split, source index)``, so the same
  image always looks the same; the base's train/test split is kept.

Everything here is numpy, vectorised over the images of a class, and nothing is downloaded. One
generated family reads files: ``photos`` crops 20 real photographs that ship inside scikit-image
and scikit-learn (checked against pinned digests); its validation and test crops come from parts
of each photo that no training crop touches.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Generator", "GENERATORS", "Variant", "VARIANTS", "generate", "apply_variant", "TEST_PER_CLASS"]

# Images per class in a generated family's fixed test split.
TEST_PER_CLASS = 100
# The seed stream of generated test splits: never a task's seed (tasks draw seeds < 2**31).
_TEST_STREAM = 2**31 + 17


@dataclass(frozen=True)
class Generator:
    """A generated family: ``render(params, n, size, rng) -> uint8 N x C x size x size``, where
    ``params`` is the class recipe from ``recipe(class_rng)``."""

    name: str
    title: str
    num_classes: int
    channels: int
    native_size: int
    hflip: bool
    recipe: Callable[[np.random.Generator], dict]
    render: Callable[[dict, int, int, np.random.Generator], np.ndarray]
    notes: str = ""
    family_id: int = 0
    class_names: tuple[str, ...] = ()  # default: NAME-00, NAME-01, ...
    missing: Callable[[], str | None] | None = None  # a one-line how-to-install when it cannot run here
    install: str = "nothing to install: generated offline, seeded"

    @property
    def classes(self) -> tuple[str, ...]:
        return self.class_names or tuple(f"{self.name}-{i:02d}" for i in range(self.num_classes))

    def class_recipe(self, class_id: int) -> dict:
        return self.recipe(np.random.default_rng([self.family_id, int(class_id), 7]))


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-1, 1]: (x, y), each 1 x size x size."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    y, x = np.meshgrid(t, t, indexing="ij")
    return x[None], y[None]


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def _colour(rng: np.random.Generator, n: int, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    return rng.uniform(lo, hi, size=(n, 3)).astype(np.float32)


def _smooth_background(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """A random colour with a linear gradient toward a second one: N x 3 x size x size."""
    x, y = _grid(size)
    c0, c1 = _colour(rng, n), _colour(rng, n)
    angle = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
    t = (np.cos(angle) * x + np.sin(angle) * y + 1.0) / 2.0  # N x H x W in [0, 1]
    return c0[:, :, None, None] * (1 - t[:, None]) + c1[:, :, None, None] * t[:, None]


# --------------------------------------------------------------------------------------------------
# textures: oriented periodic patterns with a class palette


def _texture_recipe(rng: np.random.Generator) -> dict:
    k = int(rng.integers(1, 4))
    return {
        "freq": rng.uniform(1.5, 10.0, k), "theta": rng.uniform(0, np.pi, k), "weight": rng.uniform(0.4, 1.0, k),
        "wave": rng.integers(0, 3, k), "palette": rng.uniform(0, 1, (2, 3)), "warp": float(rng.uniform(0, 0.35)),
    }


def _wave(kind: int, phase: np.ndarray) -> np.ndarray:
    if kind == 0:
        return np.sin(phase)
    if kind == 1:
        return np.sign(np.sin(phase))
    return 2.0 * ((phase / (2 * np.pi)) % 1.0) - 1.0  # sawtooth


def _render_texture(p: dict, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    x, y = _grid(size)
    rot = rng.normal(0, 0.12, n).astype(np.float32)[:, None, None]
    scale = rng.uniform(0.85, 1.15, n).astype(np.float32)[:, None, None]
    s = np.zeros((n, size, size), dtype=np.float32)
    warp_phase = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
    for f, th, w, kind in zip(p["freq"], p["theta"], p["weight"], p["wave"]):
        phi = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
        a = th + rot
        u = np.cos(a) * x + np.sin(a) * y
        v = -np.sin(a) * x + np.cos(a) * y
        u = u + p["warp"] * np.sin(3.0 * v + warp_phase) / max(f, 1.0)
        s += w * _wave(int(kind), np.pi * f * scale * u + phi)
    s = (s - s.min(axis=(1, 2), keepdims=True)) / (np.ptp(s, axis=(1, 2), keepdims=True) + 1e-6)
    contrast = rng.uniform(0.5, 1.0, n).astype(np.float32)[:, None, None]
    s = 0.5 + (s - 0.5) * contrast
    pal = p["palette"].astype(np.float32)
    jitter = rng.normal(0, 0.08, (n, 2, 3)).astype(np.float32)
    c0 = np.clip(pal[0] + jitter[:, 0], 0, 1)[:, :, None, None]
    c1 = np.clip(pal[1] + jitter[:, 1], 0, 1)[:, :, None, None]
    img = c0 * (1 - s[:, None]) + c1 * s[:, None]
    img += rng.normal(0, 1, img.shape).astype(np.float32) * rng.uniform(0, 0.08, n).astype(np.float32)[:, None, None, None]
    return _to_uint8(img)


# --------------------------------------------------------------------------------------------------
# noise: grey random fields told apart by their spectrum and a point nonlinearity


def _noise_recipe(rng: np.random.Generator) -> dict:
    return {"beta": float(rng.uniform(0.6, 3.2)), "aniso": float(rng.uniform(1.0, 4.0)),
            "theta": float(rng.uniform(0, np.pi)), "nonlin": int(rng.integers(0, 3)),
            "band": float(rng.uniform(0.0, 0.3))}


def _render_noise(p: dict, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    f = np.fft.fftfreq(size).astype(np.float32)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    th = p["theta"] + rng.normal(0, 0.1, n).astype(np.float32)[:, None, None]
    u = np.cos(th) * fx + np.sin(th) * fy
    v = -np.sin(th) * fx + np.cos(th) * fy
    r = np.sqrt((u * p["aniso"]) ** 2 + v ** 2) + 1.0 / size
    amp = r ** (-p["beta"] / 1.0) * np.exp(-((r - p["band"]) ** 2) / 0.02) ** (p["band"] > 0.05)
    white = rng.normal(0, 1, (n, size, size)).astype(np.float32)
    field = np.real(np.fft.ifft2(np.fft.fft2(white) * amp)).astype(np.float32)
    field = (field - field.mean(axis=(1, 2), keepdims=True)) / (field.std(axis=(1, 2), keepdims=True) + 1e-6)
    if p["nonlin"] == 1:
        field = np.tanh(3.0 * field)
    elif p["nonlin"] == 2:
        field = np.abs(field) * 1.5 - 1.0
    img = 0.5 + 0.22 * field * rng.uniform(0.7, 1.2, n).astype(np.float32)[:, None, None]
    img += rng.uniform(-0.1, 0.1, n).astype(np.float32)[:, None, None]
    return _to_uint8(img[:, None])


# --------------------------------------------------------------------------------------------------
# shapes: one shape (10 kinds x 3 fill styles) on a cluttered, coloured background

_SHAPES = ("circle", "ellipse", "triangle", "square", "rectangle", "pentagon", "hexagon", "star", "cross", "crescent")
_STYLES = ("filled", "outline", "striped")


def _shapes_recipe(rng: np.random.Generator) -> dict:
    return {}  # the class index alone decides shape and style (see _render_shapes_for)


def _inside(kind: str, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Mask of points (u, v) (shape-centred, rotated) inside a shape of radius ``r``."""
    rho = np.sqrt(u ** 2 + v ** 2)
    phi = np.arctan2(v, u)
    if kind == "circle":
        return rho <= r
    if kind == "ellipse":
        return (u / r) ** 2 + (v / (0.5 * r)) ** 2 <= 1
    if kind in ("triangle", "square", "pentagon", "hexagon"):
        m = {"triangle": 3, "square": 4, "pentagon": 5, "hexagon": 6}[kind]
        sector = 2 * np.pi / m
        return rho * np.cos((phi % sector) - sector / 2) <= r * np.cos(np.pi / m)
    if kind == "rectangle":
        return (np.abs(u) <= r) & (np.abs(v) <= 0.45 * r)
    if kind == "star":
        sector = 2 * np.pi / 5
        t = np.abs((phi % sector) / sector * 2 - 1)  # 1 at the points, 0 between them
        return rho <= r * (0.42 + 0.58 * t)
    if kind == "cross":
        w = 0.3 * r
        return ((np.abs(u) <= w) & (np.abs(v) <= r)) | ((np.abs(v) <= w) & (np.abs(u) <= r))
    if kind == "crescent":
        return (rho <= r) & (np.sqrt((u - 0.45 * r) ** 2 + v ** 2) > 0.8 * r)
    raise AssertionError(kind)


def _segments(rng: np.random.Generator, n: int, size: int, k: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Masks of ``k`` random line segments per image (clutter): N x k x H x W bool."""
    a = rng.uniform(-1.1, 1.1, (n, k, 2, 1, 1)).astype(np.float32)
    b = rng.uniform(-1.1, 1.1, (n, k, 2, 1, 1)).astype(np.float32)
    width = rng.uniform(0.02, 0.08, (n, k, 1, 1)).astype(np.float32)
    dx, dy = b[:, :, 0] - a[:, :, 0], b[:, :, 1] - a[:, :, 1]
    px, py = x[None] - a[:, :, 0], y[None] - a[:, :, 1]
    t = np.clip((px * dx + py * dy) / (dx * dx + dy * dy + 1e-6), 0, 1)
    return (px - t * dx) ** 2 + (py - t * dy) ** 2 <= width ** 2


def _render_shapes(p: dict, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    kind, style = _SHAPES[p["class_id"] % len(_SHAPES)], _STYLES[p["class_id"] // len(_SHAPES)]
    x, y = _grid(size)
    img = _smooth_background(rng, n, size)
    clutter = _segments(rng, n, size, 5, x, y)
    ccol = _colour(rng, n * 5).reshape(n, 5, 3)
    for j in range(5):
        m = clutter[:, j][:, None]
        img = np.where(m, ccol[:, j, :, None, None], img)
    r = rng.uniform(0.35, 0.6, n).astype(np.float32)[:, None, None]
    cx = rng.uniform(-1, 1, n).astype(np.float32)[:, None, None] * (0.95 - r)
    cy = rng.uniform(-1, 1, n).astype(np.float32)[:, None, None] * (0.95 - r)
    ang = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
    u = np.cos(ang) * (x - cx) + np.sin(ang) * (y - cy)
    v = -np.sin(ang) * (x - cx) + np.cos(ang) * (y - cy)
    mask = _inside(kind, u, v, r)
    if style == "outline":
        mask &= ~_inside(kind, u, v, r * 0.62)
    elif style == "striped":
        freq = rng.uniform(4.0, 7.0, n).astype(np.float32)[:, None, None]
        mask &= np.sin(np.pi * freq * v / r) > 0
    fg = _colour(rng, n)
    img = np.where(mask[:, None], fg[:, :, None, None], img)
    img += rng.normal(0, 0.03, img.shape).astype(np.float32)
    return _to_uint8(img)


# --------------------------------------------------------------------------------------------------
# fractals: iterated function systems (formula-driven images, as in FractalDB)


def _fractal_recipe(rng: np.random.Generator) -> dict:
    """An IFS of 2-4 contractive affine maps whose sigma-factor (sum of s1 + 2 s2 over the maps)
    lies in FractalDB's band, so the attractor is neither a point nor a smear."""
    while True:
        m = int(rng.integers(2, 5))
        a = rng.uniform(-1, 1, (m, 2, 2))
        s = np.linalg.svd(a, compute_uv=False)
        if (s[:, 0] >= 1).any():
            continue
        sigma = float((s[:, 0] + 2 * s[:, 1]).sum())
        if abs(sigma - (5 + m) / 2) <= 0.5:
            return {"a": a, "b": rng.uniform(-1, 1, (m, 2)), "det": np.abs(np.linalg.det(a)) + 1e-3,
                    "grey": bool(rng.random() < 0.3)}


def _render_fractal(p: dict, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    a0, b0 = p["a"].astype(np.float32), p["b"].astype(np.float32)
    m = len(a0)
    a = a0[None] * rng.uniform(0.9, 1.1, (n, m, 1, 1)).astype(np.float32)  # intra-class variation
    b = b0[None] + rng.normal(0, 0.05, (n, m, 2)).astype(np.float32)
    prob = p["det"] / p["det"].sum()
    walkers, steps, skip = 96, 64, 12
    pts = rng.uniform(-1, 1, (n, walkers, 2)).astype(np.float32)
    choice = rng.choice(m, size=(steps, n, walkers), p=prob)
    rows = np.arange(n)[:, None]
    kept = []
    for t in range(steps):
        c = choice[t]
        ac, bc = a[rows, c], b[rows, c]  # n x w x 2 x 2, n x w x 2
        pts = np.einsum("nwij,nwj->nwi", ac, pts) + bc
        if t >= skip:
            kept.append(pts)
    cloud = np.concatenate(kept, axis=1)  # n x P x 2
    ang = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None]
    flip = np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(np.float32)[:, None]
    u = np.cos(ang) * cloud[..., 0] - np.sin(ang) * cloud[..., 1]
    v = np.sin(ang) * cloud[..., 0] + np.cos(ang) * cloud[..., 1]
    u = u * flip
    lo_u, hi_u = np.percentile(u, [1, 99], axis=1)
    lo_v, hi_v = np.percentile(v, [1, 99], axis=1)
    span = np.maximum(hi_u - lo_u, hi_v - lo_v)[:, None] + 1e-6
    fill = rng.uniform(0.7, 0.95, n).astype(np.float32)[:, None]
    iu = ((u - (lo_u + hi_u)[:, None] / 2) / span * fill + 0.5) * size
    iv = ((v - (lo_v + hi_v)[:, None] / 2) / span * fill + 0.5) * size
    ok = (iu >= 0) & (iu < size) & (iv >= 0) & (iv < size)
    flat = (rows * size * size + iv.astype(np.int64).clip(0, size - 1) * size + iu.astype(np.int64).clip(0, size - 1))
    counts = np.bincount(flat[ok], minlength=n * size * size).reshape(n, size, size).astype(np.float32)
    density = np.log1p(counts) / (np.log1p(counts.max(axis=(1, 2), keepdims=True)) + 1e-6)
    density = np.clip(density * 1.4, 0, 1)
    if p["grey"]:
        bg = rng.uniform(0, 0.3, n).astype(np.float32)[:, None, None]
        img = (bg + (1 - bg) * density)[:, None].repeat(3, axis=1)
    else:
        fg, bg = _colour(rng, n, 0.3, 1.0), _colour(rng, n, 0.0, 0.5)
        img = bg[:, :, None, None] * (1 - density[:, None]) + fg[:, :, None, None] * density[:, None]
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    return _to_uint8(img)


# --------------------------------------------------------------------------------------------------
# photos: crops of real photographs that ship inside scikit-image and scikit-learn

# (class, package, file): 20 natural photographs (colour and grey: people, animals, objects, scenes,
# materials, microscopy, astronomy, documents). Left out: drawings and synthetic test images (horse,
# logo, chessboard, color, phantom), microaneurysms (102 px: too small to crop) and motorcycle_right
# (the left view's twin).
_PHOTO_FILES: tuple[tuple[str, str, str], ...] = (
    ("astronaut", "skimage", "data/astronaut.png"), ("brick", "skimage", "data/brick.png"),
    ("camera", "skimage", "data/camera.png"), ("cell", "skimage", "data/cell.png"),
    ("chelsea", "skimage", "data/chelsea.png"), ("clock", "skimage", "data/clock_motion.png"),
    ("coffee", "skimage", "data/coffee.png"), ("coins", "skimage", "data/coins.png"),
    ("grass", "skimage", "data/grass.png"), ("gravel", "skimage", "data/gravel.png"),
    ("hubble", "skimage", "data/hubble_deep_field.jpg"), ("ihc", "skimage", "data/ihc.png"),
    ("moon", "skimage", "data/moon.png"), ("motorcycle", "skimage", "data/motorcycle_left.png"),
    ("page", "skimage", "data/page.png"), ("retina", "skimage", "data/retina.jpg"),
    ("rocket", "skimage", "data/rocket.jpg"), ("text", "skimage", "data/text.png"),
    ("china", "sklearn", "datasets/images/china.jpg"), ("flower", "sklearn", "datasets/images/flower.jpg"),
)
_PHOTO_INSTALL = {"skimage": "pip install scikit-image", "sklearn": "pip install scikit-learn"}
# Photos larger than this (hubble, retina, motorcycle) are shrunk first, so that a crop covers a
# comparable share of a scene in every class.
_PHOTO_MAX_SIDE = 640
# Each photo is cut into this many vertical stripes; crops never straddle two. The test split's
# crops come from stripes 1 and 4, the validation split's from stripe 3, the training split's from
# the other three, so no validation or test pixel was ever seen in training: a crop of a stripe the
# model trained on would be a near-copy, and validation accuracy would promise more than a new photo
# of the scene gives (the first version drew validation crops from the training stripes: they read
# 1.000 where test crops read 0.94).
_PHOTO_STRIPES = 6
_PHOTO_TEST_STRIPES = (1, 4)
_PHOTO_VAL_STRIPES = (3,)


def _photos_missing() -> str | None:
    from nasoa.core.checksums import package_root  # lazy: only builtin:photos reads package files

    for pkg in ("skimage", "sklearn"):
        if package_root(pkg) is None:
            what = _PHOTO_INSTALL[pkg]
            return f"builtin:photos needs the photographs inside {what.split()[-1]}: {what}"
    return None


@functools.lru_cache(maxsize=None)
def _photo(index: int) -> np.ndarray:
    """Photo ``index`` of :data:`_PHOTO_FILES` as H x W x 3 uint8 (grey ones repeated), read once per
    process from its package after its sha256 is checked."""
    from PIL import Image  # lazy: Pillow; only builtin:photos decodes files

    from nasoa.core.checksums import package_file  # lazy: as above

    _, pkg, rel = _PHOTO_FILES[index]
    path = package_file(pkg, rel, _PHOTO_INSTALL[pkg])
    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = _PHOTO_MAX_SIDE / max(im.size)
        if scale < 1:
            im = im.resize((round(im.size[0] * scale), round(im.size[1] * scale)), Image.Resampling.LANCZOS)
        return np.asarray(im, dtype=np.uint8)


def _photos_recipe(rng: np.random.Generator) -> dict:
    return {}  # the class index alone names the photograph


def _photo_stripes(split: str) -> tuple[int, ...]:
    """The stripes the crops of ``split`` ("train", "val" or "test") come from."""
    if split == "test":
        return _PHOTO_TEST_STRIPES
    if split == "val":
        return _PHOTO_VAL_STRIPES
    return tuple(k for k in range(_PHOTO_STRIPES) if k not in _PHOTO_TEST_STRIPES + _PHOTO_VAL_STRIPES)


def _photo_crop_box(h: int, w: int, stripes: tuple[int, ...], rng: np.random.Generator) -> tuple[int, int, int]:
    """A square crop ``(top, left, side)`` of an ``h`` x ``w`` photo inside one of ``stripes``, its
    side 60-100% of a stripe's width (or of ``h`` when that is smaller)."""
    sw = w // _PHOTO_STRIPES
    side = max(1, int(min(h, sw) * rng.uniform(0.6, 1.0)))
    k = int(rng.choice(stripes))
    return int(rng.integers(0, h - side + 1)), k * sw + int(rng.integers(0, sw - side + 1)), side


def _render_photos(p: dict, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` square crops of the class's photograph, each 60-100% of a stripe's width, from any
    height of a random stripe of the split (see :data:`_PHOTO_TEST_STRIPES`; of a train/val call,
    the images from ``p["val_start"]`` on are the validation split's), resized to ``size``
    with antialiasing; nearly flat crops (a black border, an empty sky) are drawn again. Per image:
    position, scale, mirror, brightness, contrast, a slight colour cast and sensor noise."""
    from PIL import Image  # lazy: Pillow; only builtin:photos resizes crops

    photo = _photo(p["class_id"])
    first, rest = (_photo_stripes("test"),) * 2 if p["test"] else (_photo_stripes("train"), _photo_stripes("val"))
    out = np.empty((n, 3, size, size), dtype=np.float32)
    for i in range(n):
        stripes = first if i < p["val_start"] else rest
        for attempt in range(20):
            y0, x0, s = _photo_crop_box(photo.shape[0], photo.shape[1], stripes, rng)
            crop = photo[y0:y0 + s, x0:x0 + s]
            if crop.std() > 0.04 * 255 or attempt == 19:
                break
        img = Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR)
        a = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0
        if rng.random() < 0.5:
            a = a[:, :, ::-1]
        mean = a.mean()
        a = mean + (a - mean) * rng.uniform(0.8, 1.2) + rng.uniform(-0.08, 0.08)
        a = a * rng.uniform(0.94, 1.06, (3, 1, 1)).astype(np.float32)
        out[i] = a + rng.normal(0, 1, a.shape).astype(np.float32) * rng.uniform(0, 0.02)
    return _to_uint8(out)


GENERATORS: dict[str, Generator] = {
    g.name: g for g in (
        Generator("textures", "Procedural textures: oriented periodic patterns, class palettes (RGB)", 50, 3, 64,
                  True, _texture_recipe, _render_texture, "1-3 sine/square/sawtooth gratings per class, warped; "
                  "per image: phase, rotation, scale, contrast, colour jitter, noise", family_id=1),
        Generator("noise", "Random fields told apart by spectrum, anisotropy and nonlinearity (grey)", 40, 1, 32,
                  True, _noise_recipe, _render_noise, "fine-grained: power-law spectra with a class slope, "
                  "anisotropy, band and point nonlinearity", family_id=2),
        Generator("shapes", "Shapes on cluttered, coloured backgrounds: 10 shapes x 3 fill styles (RGB)", 30, 3, 48,
                  True, _shapes_recipe, _render_shapes, "random position, size, rotation and colours; 5 clutter "
                  "lines per image", family_id=3),
        Generator("fractals", "Formula-driven fractal images: iterated function systems (RGB)", 40, 3, 64,
                  True, _fractal_recipe, _render_fractal, "FractalDB-style IFS classes (sigma-factor band); per "
                  "image: map jitter, rotation, flip, colours", family_id=4),
        Generator("photos", "Crops of 20 real photographs: scenes, objects, materials, microscopy (RGB)", 20, 3, 64,
                  True, _photos_recipe, _render_photos, "class = the photograph a crop comes from (scikit-image's "
                  "and scikit-learn's sample images); per image: stripe, position, scale, mirror, colour; "
                  "validation and test crops from stripes no training crop touches", family_id=5,
                  class_names=tuple(f for f, _, _ in _PHOTO_FILES), missing=_photos_missing,
                  install="pip install scikit-image scikit-learn (the photographs ship inside them)"),
    )
}


def generate(name: str, class_ids: list[int], counts: list[int], size: int, seed: int, *, test: bool = False,
             val_counts: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images of generated family ``name``: ``counts[j]`` images of class ``class_ids[j]`` at
    ``size`` px, labelled ``j``; deterministic in ``(name, class, seed)`` (``test``: the fixed
    test stream instead of ``seed``). ``val_counts[j]``: the last that many of class ``j``'s images
    are its validation split (a family whose validation images must come from elsewhere, such as
    ``photos``, draws them so)."""
    g = GENERATORS[name]
    xs, ys = [], []
    stream = _TEST_STREAM if test else int(seed)
    for j, (cid, n) in enumerate(zip(class_ids, counts)):
        if n <= 0:
            continue
        recipe = g.class_recipe(cid)
        recipe["class_id"] = int(cid)
        recipe["test"] = bool(test)
        recipe["val_start"] = int(n) - (int(val_counts[j]) if val_counts else 0)
        rng = np.random.default_rng([g.family_id, int(cid), stream, 11])
        xs.append(g.render(recipe, int(n), int(size), rng))
        ys.append(np.full(int(n), j, dtype=np.int64))
    c = g.channels
    if not xs:
        return np.zeros((0, c, size, size), np.uint8), np.zeros(0, np.int64)
    x = np.concatenate(xs)
    if x.shape[1] != c:  # e.g. a grey fractal class of an RGB family stays 3-channel grey
        x = x[:, :c]
    return np.ascontiguousarray(x), np.concatenate(ys)


# --------------------------------------------------------------------------------------------------
# Variants of the real built-ins


@dataclass(frozen=True)
class Variant:
    name: str
    base: str
    kind: str  # "colour" | "corrupt"
    variant_id: int

    @property
    def channels(self) -> int:
        return 3 if self.kind == "colour" else 1

    @property
    def title(self) -> str:
        what = ("recoloured on coloured, cluttered backgrounds (RGB)" if self.kind == "colour"
                else "with random corruptions: noise, blur, low contrast, occlusion, pixelation, salt and pepper")
        return f"{self.base} {what}"


VARIANTS: dict[str, Variant] = {
    v.name: v for v in (Variant(f"{b}-{k}", b, k, 100 + 10 * i + j)
                        for i, b in enumerate(("animal", "fashion", "mnist", "digits"))
                        for j, k in enumerate(("colour", "corrupt")))
}


def _per_image_rngs(variant: Variant, split: int, index: np.ndarray) -> list[np.random.Generator]:
    return [np.random.default_rng([variant.variant_id, split, int(i)]) for i in index]


def _recolour(x: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
    n, _, h, w = x.shape
    alpha = x[:, 0].astype(np.float32) / 255.0
    out = np.empty((n, 3, h, w), dtype=np.float32)
    gx, gy = _grid(h)
    if w != h:
        gx, gy = np.meshgrid(np.linspace(-1, 1, w, dtype=np.float32), np.linspace(-1, 1, h, dtype=np.float32))
        gx, gy = gx[None], gy[None]
    for i, rng in enumerate(rngs):
        c0, c1, fg = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        while np.abs(fg - (c0 + c1) / 2).sum() < 0.6:  # keep the object visible
            fg = rng.uniform(0, 1, 3)
        ang = rng.uniform(0, 2 * np.pi)
        t = (np.cos(ang) * gx[0] + np.sin(ang) * gy[0] + 1.0) / 2.0
        bg = c0[:, None, None] * (1 - t) + c1[:, None, None] * t
        if rng.random() < 0.5:  # blotchy clutter
            k = rng.uniform(2, 6)
            bg = bg * (0.8 + 0.2 * np.sin(k * np.pi * gx[0] + rng.uniform(0, 6)) * np.sin(k * np.pi * gy[0]))
        out[i] = bg * (1 - alpha[i]) + fg[:, None, None] * alpha[i]
    return _to_uint8(out)


def _corrupt(x: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
    from scipy.ndimage import gaussian_filter  # lazy: scipy; only corrupted families need it

    out = x[:, 0].astype(np.float32) / 255.0
    h, w = out.shape[1:]
    for i, rng in enumerate(rngs):
        im = out[i]
        for kind in rng.choice(6, size=int(rng.integers(1, 3)), replace=False):
            sev = rng.uniform(0.3, 1.0)
            if kind == 0:
                im = im + rng.normal(0, 0.25 * sev, im.shape)
            elif kind == 1:
                im = gaussian_filter(im, sigma=0.4 + 1.2 * sev * h / 28)
            elif kind == 2:
                im = im.mean() + (im - im.mean()) * (1 - 0.75 * sev) + rng.uniform(-0.2, 0.2)
            elif kind == 3:
                s = max(2, int(round(h * (0.25 + 0.25 * sev))))
                r0, c0 = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
                im = im.copy()
                im[r0:r0 + s, c0:c0 + s] = rng.uniform(0, 1)
            elif kind == 4:
                f = max(2, int(round(1 + 3 * sev * h / 28)))
                small = im[::f, ::f]
                im = np.repeat(np.repeat(small, f, axis=0), f, axis=1)[:h, :w]
            else:
                m = rng.random(im.shape) < 0.15 * sev
                im = np.where(m, rng.integers(0, 2, im.shape).astype(np.float32), im)
        out[i] = im
    return _to_uint8(out[:, None])


def apply_variant(name: str, x: np.ndarray, index: np.ndarray, test: bool) -> np.ndarray:
    """Transform base images ``x`` (uint8 N x 1 x H x W) whose indices in the base split are
    ``index``; each image's transformation is seeded by ``(variant, split, index)``."""
    v = VARIANTS[name]
    rngs = _per_image_rngs(v, 1 if test else 0, index)
    if len(x) == 0:
        return np.zeros((0, v.channels) + x.shape[2:], np.uint8)
    return _recolour(x, rngs) if v.kind == "colour" else _corrupt(x, rngs)


def family_of(spec: str) -> str:
    """The family a task spec belongs to: ``builtin:textures?...`` -> ``textures``; a path ->
    ``files``. Evaluation groups by it (never a model input)."""
    s = str(spec)
    if s.lower().startswith("builtin:"):
        return s[len("builtin:"):].split("?")[0].strip().lower()
    if s.startswith("synthetic:"):  # nasoa.meta.synthetic's test runs: synthetic:FAMILY/TASK
        return s.split("/")[0]
    return "files"


def lineage_of(spec: str) -> str:
    """The family a task counts under when whole families are held out: a variant counts with its
    base (``animal-colour`` and ``animal-corrupt`` with ``animal``), so holding one out holds out
    every task made from the same images."""
    fam = family_of(spec)
    return VARIANTS[fam].base if fam in VARIANTS else fam


__all__ += ["family_of", "lineage_of"]
