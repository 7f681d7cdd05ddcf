"""`nasoa export`: the exported file serves a run's model without nasoa, with `nasoa predict`'s numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import ENC
from nasoa.core.data import load_images

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

runner = CliRunner()
SIZE = 16


def _folder(root: Path, mode: str, side: int) -> Path:
    """train/ and val/ of 3 classes told apart by colour (grey: by brightness)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("val", 4)):
        for c, cls in enumerate(("blue", "green", "red")):
            for i in range(n):
                rgb = rng.integers(0, 120, (side, side, 3)).astype(np.uint8)
                rgb[..., c] += 120
                im = Image.fromarray(rgb, "RGB")
                path = root / split / cls / f"{i:02d}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                (im.convert("L") if mode == "L" else im).save(path)
    return root


@pytest.fixture(scope="module", params=["RGB", "L"])
def run(request, tmp_path_factory) -> Path:
    """A short run on a folder of ``SIZE`` px images (RGB, or grey: a one-channel input)."""
    from nasoa.cli.main import app

    tmp = tmp_path_factory.mktemp(f"export-{request.param}")
    data = _folder(tmp / "data", request.param, SIZE)
    out = tmp / "run"
    r = runner.invoke(app, ["train", str(data), "-m", ENC, "--scratch", "--budget", "30s", "--epochs", "2",
                            "--size", str(SIZE), "--lr", "0.05", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def _val(run: Path) -> list[Path]:
    return sorted((run.parent / "data" / "val").rglob("*.png"))


def _predicted(run: Path, files: list[Path]) -> np.ndarray:
    """`nasoa predict`'s probabilities of every class, in the run's class order."""
    from nasoa.cli.main import app

    classes = json.loads((run / "classes.json").read_text())
    r = runner.invoke(app, ["predict", str(run), *map(str, files), "--json", "--top", str(len(classes))])
    assert r.exit_code == 0, r.output
    return np.array([[dict(p["top"])[c] for c in classes] for p in json.loads(r.stdout)])


def test_onnx_export_serves_the_runs_model_without_nasoa(run):
    ort = pytest.importorskip("onnxruntime")
    from nasoa.cli.main import app

    r = runner.invoke(app, ["export", str(run), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    model, desc = run / "export" / "model.onnx", run / "export" / "model.onnx.json"
    assert info["path"] == str(model) and model.is_file() and desc.is_file()
    written = json.loads(desc.read_text())
    classes = json.loads((run / "classes.json").read_text())
    manifest = json.loads((run / "manifest.json").read_text())
    channels = manifest["model"]["image_format"]["channels"]
    assert written["classes"] == classes
    assert written["input"]["shape"] == ["batch", SIZE, SIZE, channels]
    assert written["input"]["colour"] == ("grey" if channels == 1 else "RGB")
    assert written["in_the_model"]["mean"] == manifest["model"]["mean"]
    # the run's calibration is inside: the probabilities are predict's calibrated ones (below)
    assert written["temperature"] == manifest["result"]["calibration"]["temperature"] != 1.0
    assert written["check"]["images"] == 8 and written["check"]["same_top1"] == 8
    assert written["check"]["max_abs_diff"] <= 1e-4
    assert written["provenance"]["versions"]["torch"] == torch.__version__.split("+")[0]

    # A server's view: onnxruntime on the image files as Pillow reads them (the README's recipe; the
    # images are at the input size, so no resampling enters), one batch of every validation image.
    files = _val(run)
    mode = "L" if channels == 1 else "RGB"
    batch = np.stack([np.asarray(Image.open(f).convert(mode), np.uint8).reshape(SIZE, SIZE, -1) for f in files])
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    probs, logits = session.run(None, {"images": batch})
    want = _predicted(run, files)
    np.testing.assert_allclose(probs, want, atol=1e-5)
    np.testing.assert_allclose(probs, torch.softmax(torch.from_numpy(logits), 1).numpy(), atol=1e-6)
    # and the run's validation accuracy, counted on the exported model
    truth = [classes.index(f.parent.name) for f in files]
    assert np.mean(probs.argmax(1) == truth) == pytest.approx(manifest["result"]["val_accuracy"])
    # any batch size, one image included
    one, _ = session.run(None, {"images": batch[:1]})
    np.testing.assert_allclose(one, probs[:1], atol=1e-6)


def test_tta_export_serves_predict_tta(run, tmp_path):
    """`export --tta`: the mirror-image average is inside the graph; onnxruntime on the validation
    images gives `predict --tta`'s probabilities, and logits are their logarithm."""
    ort = pytest.importorskip("onnxruntime")
    from nasoa.app.predict import predict
    from nasoa.cli.main import app

    out = tmp_path / "tta.onnx"
    r = runner.invoke(app, ["export", str(run), "--tta", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["tta"] and info["check"]["max_abs_diff"] <= 1e-4
    files = _val(run)
    classes = json.loads((run / "classes.json").read_text())
    mode = "L" if info["input"]["channels"] == 1 else "RGB"
    batch = np.stack([np.asarray(Image.open(f).convert(mode), np.uint8).reshape(SIZE, SIZE, -1) for f in files])
    probs, logits = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"images": batch})
    want = np.array([[dict(p.top)[c] for c in classes] for p in predict(run, files, top_k=len(classes), tta=True)])
    np.testing.assert_allclose(probs, want, atol=1e-5)
    np.testing.assert_allclose(np.exp(logits), probs, atol=1e-6)
    assert not np.allclose(probs, _predicted(run, files), atol=1e-4)  # not the plain model's


def test_pt2_export_loads_in_plain_torch(run, tmp_path):
    from nasoa.cli.main import app

    out = tmp_path / "serve" / "cls.pt2"
    r = runner.invoke(app, ["export", str(run), "--format", "pt2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "checked with torch" in r.output and f"{out}.json" in r.output
    assert json.loads((tmp_path / "serve" / "cls.pt2.json").read_text())["format"] == "pt2"
    program = torch.export.load(str(out)).module()
    manifest = json.loads((run / "manifest.json").read_text())
    files = _val(run)
    x = load_images(files, manifest["model"]["image_format"], size=SIZE).permute(0, 2, 3, 1).contiguous()
    with torch.inference_mode():
        probs, _ = program(x)
        one, _ = program(x[:1])
    np.testing.assert_allclose(probs.numpy(), _predicted(run, files), atol=1e-5)
    np.testing.assert_allclose(one.numpy(), probs[:1].numpy(), atol=1e-6)


def test_a_failed_check_leaves_the_earlier_export_as_it_was(run, tmp_path, monkeypatch):
    from nasoa.app import export_model
    from nasoa.core.errors import NasoaError

    out = tmp_path / "m.pt2"
    export_model.export_run(run, out, fmt="pt2")
    before = out.read_bytes(), export_model.description_path(out).read_text()
    monkeypatch.setattr(export_model, "TOLERANCE", -1.0)  # every check now fails
    with pytest.raises(NasoaError, match="nothing was written"):
        export_model.export_run(run, out, fmt="pt2")
    assert (out.read_bytes(), export_model.description_path(out).read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt2", "m.pt2.json"]  # no temporary left behind


def test_onnx_without_its_exporter_names_the_install(run, tmp_path, monkeypatch):
    import sys

    from nasoa.app import export_model
    from nasoa.core.errors import NasoaError

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'onnxscript'")

    monkeypatch.setattr(torch.onnx, "export", missing)
    with pytest.raises(NasoaError, match=r"pip install 'nasoa\[export\]'.*--format pt2"):
        export_model.export_run(run, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())
    # and without onnxruntime the file is written, unchecked, and says so
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    info = export_model.export_run(run, tmp_path / "m.onnx")
    assert info["check"]["images"] == 0 and "onnxruntime is not installed" in info["check"]["skipped"]
    assert (tmp_path / "m.onnx").is_file()
    assert "not checked: onnxruntime is not installed" in "\n".join(export_model.describe(info))
    info = export_model.export_run(run, tmp_path / "m.pt2", fmt="pt2", check_images=0)
    assert info["check"]["images"] == 0 and "--check 0" in info["check"]["skipped"]


def test_the_readmes_serving_recipe_runs_as_written(run):
    """The README's onnxruntime snippet, run as it stands with the run's paths and images put in,
    prints `nasoa predict`'s labels."""
    import contextlib
    import io
    import re

    pytest.importorskip("onnxruntime")
    from nasoa.app.export_model import export_run
    from nasoa.app.predict import predict

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"Serving with onnxruntime:\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert '["a.png", "b.jpg"]' in code and "shapes-run/" in code
    export_run(run)
    files = _val(run)
    code = code.replace("shapes-run/", f"{run}/").replace('["a.png", "b.jpg"]', repr([str(f) for f in files]))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue().strip() == str([p.label for p in predict(run, files, top_k=1)])


def test_an_interrupted_run_is_exported_and_says_so(run, tmp_path):
    import shutil

    from nasoa.app.export_model import describe, export_run

    stopped = tmp_path / "stopped"
    shutil.copytree(run, stopped, ignore=shutil.ignore_patterns("export"))
    manifest = json.loads((stopped / "manifest.json").read_text())
    (stopped / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    info = export_run(stopped, fmt="pt2", check_images=0)
    assert info["run_status"] == "interrupted"
    assert any(line.startswith("note: the run was interrupted") for line in describe(info))
    assert export_run(run, tmp_path / "done.pt2", fmt="pt2", check_images=0)["run_status"] == "done"


@pytest.mark.parametrize("member", ["mobilenetv2_imagenet", "efficientnet_lite0_imagenet"])
def test_the_imagenet_members_export_to_onnx(member, tmp_path):
    """The zoo's torchvision and timm members pass the export's own check (probabilities within 1e-4
    of the run's model in onnxruntime), on an RGB run dir at their 64 px."""
    pytest.importorskip("onnxruntime")
    from safetensors.torch import save_file

    import nasoa
    from nasoa.app.export_model import export_run

    torch.manual_seed(0)
    model = nasoa.create_model(member, num_classes=3, input_size=64)
    run = tmp_path / "run"
    run.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, run / "model.safetensors")
    (run / "classes.json").write_text(json.dumps(["a", "b", "c"]))
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    (run / "manifest.json").write_text(json.dumps({"status": "done", "model": {
        "name": member, "input_size": 64, "mean": mean, "std": std, "channels": 3,
        "image_format": {"frame": [64, 64], "channels": 3}}}))
    info = export_run(run)
    assert info["check"]["images"] == 8 and info["check"]["max_abs_diff"] <= 1e-4
    assert info["input"]["shape"] == ["batch", 64, 64, 3] and info["in_the_model"]["std"] == std
