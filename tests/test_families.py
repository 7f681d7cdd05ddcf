"""Task families (nasoa.core.families): determinism, splits, class identity across tasks, and features
that depend on the images only (the same images from an ImageFolder give the same features)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nasoa.core import families
from nasoa.core.data import DataError, list_builtin, load_task, load_test
from nasoa.core.families import GENERATORS, VARIANTS, family_of
from nasoa.meta.features import task_meta_features

GENERATED = sorted(GENERATORS)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_family_is_deterministic_and_varied(name):
    spec = f"builtin:{name}?classes=0,1,2&per_class=6&val_per_class=3&size=24&seed=5"
    a, b = load_task(spec), load_task(spec)
    g = GENERATORS[name]
    assert a.x_train.shape == (18, g.channels, 24, 24) and a.x_val.shape == (9, g.channels, 24, 24)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.x_val, b.x_val)
    assert a.y_train.tolist() == [0] * 6 + [1] * 6 + [2] * 6
    other = load_task(spec.replace("seed=5", "seed=6"))
    assert not torch.equal(a.x_train, other.x_train)
    x = a.x_train.float()
    assert x.std() > 10  # not blank
    # No two images are the same, and class means differ (classes are different recipes).
    flat = x.reshape(len(x), -1)
    assert torch.cdist(flat, flat).add(torch.eye(len(x)) * 1e9).min() > 0
    means = torch.stack([flat[a.y_train == c].mean(0) for c in range(3)])
    assert torch.cdist(means, means).add(torch.eye(3) * 1e9).min() > 1.0


@pytest.mark.parametrize("name", GENERATED)
def test_class_is_the_same_concept_in_every_task(name):
    a = load_task(f"builtin:{name}?classes=3,7&per_class=4&val_per_class=2&size=16&seed=1")
    b = load_task(f"builtin:{name}?classes=1,3&per_class=4&val_per_class=2&size=16&seed=1")
    assert torch.equal(a.x_train[a.y_train == 0], b.x_train[b.y_train == 1])


@pytest.mark.parametrize("name", ["textures", "shapes", "photos"])
def test_generated_test_split_is_fixed_and_apart_from_training(name):
    spec = f"builtin:{name}?classes=0,4&per_class=20&size=16"
    test = load_test(spec)
    assert test.num_val == 200 and test.num_train == 0
    assert torch.equal(test.x_val, load_test(spec.replace("size=16", "size=16&seed=9")).x_val)  # no task seed
    train = load_task(spec).x_train.reshape(40, -1).float()
    assert torch.cdist(train, test.x_val.reshape(200, -1).float()).min() > 0


def test_photo_crops_of_a_split_stay_inside_its_stripes():
    """A validation or test crop shares no pixel with a training crop: each lies inside one stripe
    of its split, and the splits' stripes are disjoint."""
    train, val, test = (families._photo_stripes(s) for s in ("train", "val", "test"))
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    assert len(train) + len(val) + len(test) == families._PHOTO_STRIPES and train and val and test
    rng = np.random.default_rng(0)
    for h, w in ((300, 451), (191, 384), (512, 512), (640, 427)):
        sw = w // families._PHOTO_STRIPES
        for stripes in (train, val, test):
            for _ in range(300):
                top, left, side = families._photo_crop_box(h, w, stripes, rng)
                assert 0 <= top and top + side <= h and side >= 0.6 * min(h, sw) - 1
                assert left // sw == (left + side - 1) // sw and left // sw in stripes


def test_photos_render_each_split_from_its_own_stripes(monkeypatch):
    seen = []
    real = families._photo_crop_box
    monkeypatch.setattr(families, "_photo_crop_box", lambda h, w, stripes, rng: seen.append(stripes) or
                        real(h, w, stripes, rng))
    train, val, test = (families._photo_stripes(s) for s in ("train", "val", "test"))
    task = load_task("builtin:photos?classes=4,8&per_class=3&val_per_class=2&size=16&seed=2")
    assert task.num_train == 6 and task.num_val == 4
    # Each class draws its 3 training crops, then its 2 validation crops (flat crops may draw again).
    assert seen.count(val) >= 4 and seen.count(train) >= 6 and set(seen) == {train, val}
    firsts = [s for s, prev in zip(seen, [None, *seen]) if s != prev]
    assert firsts == [train, val, train, val]
    seen.clear()
    held = load_test("builtin:photos?classes=4,8&size=16")
    assert held.x_val.shape == (200, 3, 16, 16) and set(seen) == {test}
    assert list_builtin_names()["photos"]["classes"][4] == "chelsea"


def test_photos_without_scikit_image_say_how_to_install(monkeypatch):
    import nasoa.core.checksums as checksums

    real = checksums.package_root
    monkeypatch.setattr(checksums, "package_root", lambda pkg: None if pkg == "skimage" else real(pkg))
    listed = list_builtin_names()["photos"]
    assert not listed["available"] and "pip install scikit-image" in listed["missing"]
    with pytest.raises(DataError, match=r"builtin:photos needs .*pip install scikit-image"):
        load_task("builtin:photos?classes=0,1&per_class=4")


def list_builtin_names() -> dict:
    return {d["name"]: d for d in list_builtin()}


def test_variants_keep_the_base_split_and_transform_each_image_the_same_way():
    base = load_task("builtin:digits?classes=1,7&per_class=20")
    col = load_task("builtin:digits-colour?classes=1,7&per_class=20")
    cor = load_task("builtin:digits-corrupt?classes=1,7&per_class=20")
    assert col.x_train.shape[1] == 3 and cor.x_train.shape[1] == 1
    assert torch.equal(base.y_train, col.y_train) and torch.equal(base.y_val, cor.y_val)
    assert not torch.equal(base.x_train, cor.x_train)
    # The same source image gets the same transformation in another task.
    other = load_task("builtin:digits-colour?classes=7&per_class=20".replace("classes=7", "classes=0,7"))
    assert torch.equal(col.x_train[col.y_train == 1], other.x_train[other.y_train == 1])
    assert load_test("builtin:digits-colour?classes=1,7").x_val.shape[1] == 3


def test_families_are_listed_and_not_unions():
    listed = {d["name"]: d for d in list_builtin()}
    for name in (*GENERATORS, *VARIANTS):
        assert listed[name]["kind"] in ("generated", "variant") and listed[name]["num_classes"] >= 10
    assert listed["textures"]["available"] and listed["textures"]["channels"] == 3
    with pytest.raises(DataError, match="unions take real sources only"):
        load_task("builtin:digits+textures")
    assert family_of("builtin:shapes?classes=1,2") == "shapes" and family_of("/data/pets") == "files"


def test_features_come_from_the_images_not_the_source(tmp_path):
    """The same images as an ImageFolder and as a built-in spec give the same meta-features."""
    spec = "builtin:textures?classes=2,5,11&per_class=8&val_per_class=4&size=32&seed=3"
    task = load_task(spec)
    for split, x, y in (("train", task.x_train, task.y_train), ("val", task.x_val, task.y_val)):
        for i, (img, label) in enumerate(zip(x, y)):
            d = tmp_path / split / f"c{int(label):02d}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(d / f"{i:03d}.png")
    folder = load_task(str(tmp_path))
    assert folder.num_train == task.num_train and folder.num_val == task.num_val
    assert torch.equal(folder.x_train.sort(0).values, task.x_train.sort(0).values)
    fa, fb = task_meta_features(task), task_meta_features(folder)
    assert fa.keys() == fb.keys()
    for k in fa:
        assert fa[k] == pytest.approx(fb[k], rel=1e-6, abs=1e-9), k
    assert not any(isinstance(v, str) for v in fa.values())
