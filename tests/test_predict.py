"""`nasoa predict` sees an image as training saw it: one decoder, one resize, one normalisation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import ENC
from nasoa.core.data import Batches, load_images, load_task

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

runner = CliRunner()
MODES = ("RGBA", "P", "I;16", "L", "RGB")


def _image(path: Path, mode: str, rng: np.random.Generator, tint: int, side: int = 20) -> None:
    """An image of ``mode`` whose content depends on the class (``tint``), saved as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = rng.integers(0, 120, (side, side, 3)).astype(np.uint8)
    rgb[..., tint % 3] += 120
    if mode == "RGBA":
        alpha = rng.integers(0, 256, (side, side, 1), dtype=np.uint8)  # composited on white when decoded
        im = Image.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA")
    elif mode == "P":
        im = Image.fromarray(rgb, "RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    elif mode == "I;16":
        grey = rgb.mean(axis=2).astype(np.uint16) * 257  # 16-bit: rescaled to 8 when decoded
        im = Image.fromarray(grey)  # uint16: mode I;16
    elif mode == "L":
        im = Image.fromarray(rgb.mean(axis=2).astype(np.uint8), "L")
    else:
        im = Image.fromarray(rgb, "RGB")
    im.save(path)


@pytest.fixture()
def modes_folder(tmp_path) -> Path:
    """train/ and val/ of 3 classes, every image mode in each class, and one val image of an odd size."""
    rng = np.random.default_rng(0)
    root = tmp_path / "modes"
    for split, per_mode in (("train", 3), ("val", 1)):
        for c, cls in enumerate(("blue", "green", "red")):
            for i in range(per_mode * len(MODES)):
                mode = MODES[i % len(MODES)]
                _image(root / split / cls / f"{i:02d}-{mode.replace(';', '')}.png", mode, rng, c)
    _image(root / "val" / "red" / "99-odd.png", "RGB", rng, 2, side=27)  # resized to 20 x 20 like the rest
    return root


def _val_files(root: Path, classes: list[str]) -> list[Path]:
    """The val images in the order load_task keeps them (class by class, file names sorted)."""
    return [p for c in classes for p in sorted((root / "val" / c).iterdir())]


def _trainer_predictions(run: Path, task) -> tuple[list[str], list[float]]:
    """Labels and top probabilities of the run's model on ``task.x_val`` (the run's task at its input
    size), computed as the trainer evaluates: its batches, normalisation, eval mode, channels_last;
    the probabilities with the temperature the run fitted (its manifest's calibration)."""
    from nasoa.app.predict import load_run

    model, classes, spec = load_run(run)
    batches = Batches(task.x_val, task.y_val, batch_size=256, shuffle=False, mean=spec["mean"], std=spec["std"],
                      channels=3, channels_last=True)
    model.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        logits = torch.cat([model(x) for x, _ in batches.epoch(0)])
    temperature = json.loads((run / "manifest.json").read_text())["result"]["calibration"]["temperature"]
    assert spec["temperature"] == temperature
    probs = torch.softmax(logits.float() / temperature, 1)
    return [classes[i] for i in logits.argmax(1).tolist()], probs.max(1).values.tolist()


@pytest.mark.filterwarnings("ignore:resized 1 of:nasoa.core.data.DataWarning")
def test_load_images_decodes_as_the_task_loader_does(modes_folder):
    assert {Image.open(p).mode for p in (modes_folder / "train" / "red").iterdir()} >= {"RGBA", "P", "L", "RGB"}
    task = load_task(modes_folder)
    fmt = task.info["image_format"]
    assert fmt == {"decode_size": None, "max_side": 512, "frame": [20, 20], "channels": 3, "fit": "stretch"}
    files = _val_files(modes_folder, task.classes)
    assert len(files) == task.num_val
    assert torch.equal(load_images(files, fmt), task.x_val)
    assert torch.equal(load_images(files, fmt, size=16), task.resized(16).x_val)  # the trainer's resize


@pytest.mark.filterwarnings("ignore:resized 1 of:nasoa.core.data.DataWarning")
def test_predict_reproduces_the_runs_validation_predictions(modes_folder, tmp_path):
    from nasoa.app.predict import load_run
    from nasoa.cli.main import app

    run = tmp_path / "run"
    r = runner.invoke(app, ["train", str(modes_folder), "-m", ENC, "--scratch", "--budget", "30s", "--epochs", "3",
                            "--size", "16", "--lr", "0.05", "--out", str(run), "--json"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["model"]["image_format"]["frame"] == [20, 20]

    task = load_task(modes_folder).resized(manifest["model"]["input_size"])
    expected, expected_p = _trainer_predictions(run, task)

    files = _val_files(modes_folder, task.classes)
    r = runner.invoke(app, ["predict", str(run), *map(str, files), "--json"])
    assert r.exit_code == 0, r.output
    preds = json.loads(r.stdout)
    got = [p["label"] for p in preds]
    assert got == expected
    # Not only the same labels: the same numbers (a decoder that drops alpha, or a resize without
    # antialiasing, moves every probability while often keeping the label).
    assert [p["probability"] for p in preds] == pytest.approx(expected_p, abs=1e-5)
    truth = [task.classes[i] for i in task.y_val.tolist()]
    accuracy = sum(g == t for g, t in zip(got, truth)) / len(truth)
    assert accuracy == pytest.approx(manifest["result"]["val_accuracy"])

    # --uncalibrated: the network's own softmax, the same labels; the run's temperature moved them.
    cal = manifest["result"]["calibration"]
    assert cal["images"] == task.num_val and abs(cal["temperature"] - 1) > 1e-3
    r = runner.invoke(app, ["predict", str(run), *map(str, files), "--json", "--uncalibrated"])
    assert r.exit_code == 0, r.output
    raw = json.loads(r.stdout)
    model, _, _ = load_run(run)
    assert [p["label"] for p in raw] == expected
    with torch.inference_mode():
        logits = torch.cat([model(x.contiguous(memory_format=torch.channels_last)) for x, _ in Batches(
            task.x_val, task.y_val, batch_size=256, shuffle=False, mean=manifest["model"]["mean"],
            std=manifest["model"]["std"], channels=3, channels_last=True).epoch(0)])
    assert [p["probability"] for p in raw] == pytest.approx(torch.softmax(logits, 1).max(1).values.tolist(),
                                                            abs=1e-5)
    assert [p["probability"] for p in raw] != pytest.approx(expected_p, abs=1e-3)


def test_grey_run_sees_a_colour_image_in_grey(tmp_path):
    """A task of grey images: a colour image is made grey as the task's were, not fed as colour."""
    rng = np.random.default_rng(1)
    root = tmp_path / "grey"
    for c, cls in enumerate(("a", "b")):
        for i in range(3):
            _image(root / cls / f"{i}.png", "L", rng, c)
    task = load_task(root)
    fmt = task.info["image_format"]
    assert fmt["channels"] == 1
    colour = tmp_path / "colour.png"
    _image(colour, "RGB", rng, 0)
    x = load_images([colour], fmt)
    assert x.shape == (1, 1, 20, 20)
    assert torch.equal(x[0, 0], torch.from_numpy(np.array(Image.open(colour).convert("L"))))


# A built-in task's images written as the files people have. Each mode hides the picture behind a
# step the decoder must take: colour modes draw the digit in red ink on a white background that
# is stored as transparent black (a decoder that drops alpha sees black), 16-bit grey spans
# 0..65535 (a plain 8-bit conversion clips it to white).
FILE_MODES = ("RGBA", "P", "I;16", "L")
_INK = np.array([180.0, 40.0, 20.0])


def _picture(x: torch.Tensor, mode: str) -> np.ndarray:
    """A built-in image (1 x H x W, bright ink on black) as the picture a ``mode`` file shows:
    H x W grey for the grey modes, H x W x 3 red ink on white for the colour ones."""
    if mode in ("I;16", "L"):
        return x[0].numpy()
    ink = x[0].numpy().astype(np.float64)[..., None] / 255
    return np.round(255 - ink * (255 - _INK)).astype(np.uint8)


def _write(path: Path, a: np.ndarray, mode: str) -> None:
    """Save the picture ``a`` (H x W grey or H x W x 3) as a PNG of ``mode`` that decodes to exactly ``a``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "L":
        im = Image.fromarray(a, "L")
    elif mode == "I;16":
        im = Image.fromarray(a.astype(np.uint16) * 257)
    elif mode == "RGBA":
        clear = (a == 255).all(axis=2, keepdims=True)
        im = Image.fromarray(np.concatenate([np.where(clear, 0, a), np.where(clear, 0, 255)], axis=2).astype(np.uint8))
    else:  # P: one palette entry per colour, white as a transparent black entry
        colours, index = np.unique(a.reshape(-1, 3), axis=0, return_inverse=True)
        white = np.flatnonzero((colours == 255).all(axis=1))
        colours[white] = 0
        im = Image.fromarray(index.reshape(a.shape[:2]).astype(np.uint8), "P")
        im.putpalette(colours.astype(np.uint8).tobytes())
        im.save(path, transparency=int(white[0])) if len(white) else im.save(path)
        return
    im.save(path)


@pytest.mark.parametrize("mode", FILE_MODES)
def test_predict_on_a_run_dir_reproduces_its_validation_predictions(mode, tmp_path):
    """`nasoa predict` on a run's validation files gives the labels the trainer's evaluation gives on
    the same images, for each kind of file; and so do the images the model saw, saved at its input
    size. The files are digits at their native 8 px; the run trains at 16 px."""
    from nasoa.cli.main import app

    digits = load_task("builtin:digits?per_class=60&val_per_class=12", seed=0)
    root = tmp_path / "folder"
    for split, x, y in (("train", digits.x_train, digits.y_train), ("val", digits.x_val, digits.y_val)):
        for i, (img, c) in enumerate(zip(x, y.tolist())):
            _write(root / split / digits.classes[c] / f"{i:04d}.png", _picture(img, mode), mode)
    with Image.open(next((root / "val" / "0").iterdir())) as im:
        assert im.mode == mode
    run = tmp_path / "run"
    r = runner.invoke(app, ["train", str(root), "-m", ENC, "--scratch", "--budget", "60s", "--epochs", "10", "--size",
                            "16", "--lr", "0.05", "--seed", "0", "--device", "cpu", "--out", str(run), "--json"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((run / "manifest.json").read_text())
    fmt = manifest["model"]["image_format"]
    assert fmt["frame"] == [8, 8] and fmt["channels"] == (1 if mode in ("I;16", "L") else 3)

    task = load_task(root, seed=0).resized(16)  # the run's task at its input size
    files = _val_files(root, task.classes)
    assert torch.equal(load_images(files, fmt, size=16), task.x_val)  # one decoder: the very images evaluated
    expected, _ = _trainer_predictions(run, task)
    truth = [task.classes[i] for i in task.y_val.tolist()]
    accuracy = sum(e == t for e, t in zip(expected, truth)) / len(truth)
    assert accuracy == manifest["result"]["val_accuracy"]  # these are the predictions the run measured
    assert accuracy >= 0.4 and len(set(expected)) >= 8  # a trained model (0.6 here), not a constant one

    def predicted(paths: list[Path]) -> list[str]:
        r = runner.invoke(app, ["predict", str(run), *map(str, paths), "--json"])
        assert r.exit_code == 0, r.output
        return [p["label"] for p in json.loads(r.stdout)]

    assert predicted(files) == expected
    # The val folder itself: its images in the same order, each scored against its folder's class,
    # and the accuracy printed is the one the run measured.
    r = runner.invoke(app, ["predict", str(run), str(root / "val"), "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [p["label"] for p in rows] == expected and [p["folder_class"] for p in rows] == truth
    r = runner.invoke(app, ["predict", str(run), str(root / "val")])
    assert r.stdout.splitlines()[-1].startswith(f"accuracy {accuracy:.4f} ({round(accuracy * len(truth))} of "
                                                f"{len(truth)} images")
    # --summary: no line per image; a row per class with its recall over the run's own predictions.
    r = runner.invoke(app, ["predict", str(run), str(root / "val"), "--summary"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["class", "images", "recall", "precision", "most", "often", "taken", "for"]
    assert len(lines) == 2 + len(set(truth)) and lines[-1].startswith(f"accuracy {accuracy:.4f}")
    for line in lines[1:-1]:
        name, n, recall = line.split()[:3]
        right = sum(e == t == name for e, t in zip(expected, truth))
        assert int(n) == truth.count(name) and float(recall) == pytest.approx(right / truth.count(name), abs=5e-4)
    seen = []
    for i, x in enumerate(task.x_val):
        seen.append(tmp_path / "seen" / f"{i:04d}.png")
        _write(seen[-1], x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy(), mode)
    assert torch.equal(load_images(seen, fmt, size=16), task.x_val)
    assert predicted(seen) == expected


def test_a_folder_stands_for_its_images_and_names_their_class(tmp_path):
    """Folders expand to their image files (recursively, sorted; hidden names and other files left
    out); the accuracy is read only when every image lies in a folder named after a class."""
    from nasoa.app.predict import Prediction, accuracy, image_files, per_class
    from nasoa.core.data import DataError

    rng = np.random.default_rng(0)
    for rel in ("b/2.png", "b/10.jpg", "a/1.png", "a/deep/3.PNG", ".hidden/4.png", "a/.5.png"):
        _image(tmp_path / "f" / rel, "RGB", rng, 0)
    (tmp_path / "f" / "a" / "notes.txt").write_text("not an image")
    loose = tmp_path / "loose.png"
    _image(loose, "L", rng, 1)
    got = image_files([loose, tmp_path / "f"])
    assert [p.relative_to(tmp_path).as_posix() for p in got] == [
        "loose.png", "f/a/1.png", "f/a/deep/3.PNG", "f/b/10.jpg", "f/b/2.png"]
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="holds no image files"):
        image_files([tmp_path / "none"])

    def pred(label, folder):
        return Prediction("x.png", label, 1.0, [(label, 1.0)], folder)

    assert accuracy([pred("cat", "cat"), pred("dog", "cat"), pred("dog", "dog")]) == (2, 3)
    assert accuracy([pred("cat", "cat"), pred("cat", None)]) is None and accuracy([]) is None
    # Per class: recall over its folder's images, precision over the images labelled it, and the
    # class its images are most often taken for; a label no folder names has no row.
    rows = per_class([pred("cat", "cat"), pred("dog", "cat"), pred("dog", "cat"), pred("dog", "dog"),
                      pred("fox", "dog")])
    assert rows == [
        {"class": "cat", "images": 3, "right": 1, "recall": 1 / 3, "precision": 1.0, "taken_for": "dog",
         "taken_for_images": 2},
        {"class": "dog", "images": 2, "right": 1, "recall": 0.5, "precision": 1 / 3, "taken_for": "fox",
         "taken_for_images": 1}]
    assert per_class([pred("cat", None)]) is None
