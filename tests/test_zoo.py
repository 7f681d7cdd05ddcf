"""The pretrained zoo: every member builds, loads its weights offline, trains; ImageNet members
really carry ImageNet knowledge; the registry CLI."""

import json


import pytest
import torch
from typer.testing import CliRunner

import nasoa
from nasoa.cli.main import app
from nasoa.core.errors import NasoaError
from nasoa.zoo import records
from nasoa.zoo.imagenet import lite0_key

runner = CliRunner()
MEMBERS = [r["name"] for r in records(include_user=False)]


def test_registry_has_members():
    assert "mobilenetv2_imagenet" in MEMBERS and "efficientnet_lite0_imagenet" in MEMBERS


@pytest.mark.parametrize("name", MEMBERS)
def test_member_builds_loads_and_trains(name):
    rec = next(r for r in records() if r["name"] == name)
    for key in ("input_size", "mean", "std", "source", "source_accuracy", "params", "train_step_ms", "provenance"):
        assert rec.get(key) is not None, key
    assert set(rec["train_step_ms"]) >= {"0", "1"}
    torch.manual_seed(0)
    model = nasoa.create_model(name, pretrained=True, num_classes=5)
    size = min(rec["input_size"], 32)
    x = torch.randn(2, 3, size, size)
    out = model(x)
    assert out.shape == (2, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert model.frozen_modules(1)  # the trainer can freeze its first stage


@pytest.mark.parametrize("name", [n for n in MEMBERS if n.startswith("etnas")])
def test_etnas_member_weights_are_the_pretrained_ones(name):
    from safetensors.torch import load_file

    rec = next(r for r in records() if r["name"] == name)
    model = nasoa.create_model(name, pretrained=True, num_classes=7)
    sd = load_file(f"{rec['_dir']}/{rec['weights']['file']}")
    own = model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in sd.items() if not k.startswith("fc."))
    assert own["fc.weight"].shape == (7, model.num_features)  # new head


def _photo(name: str, mean, std, size=224):
    from skimage import data

    img = torch.tensor(getattr(data, name)()).permute(2, 0, 1).float()[None] / 255
    img = torch.nn.functional.interpolate(img, size=(size, size), mode="bilinear", antialias=True)
    return (img - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


@pytest.mark.parametrize("name", ["mobilenetv2_imagenet", "efficientnet_lite0_imagenet"])
def test_imagenet_members_recognise_photos(name):
    """Loaded right, the ImageNet weights call scikit-image's cat a cat (classes 281-285) and its
    coffee a cup/espresso (967/968/504)."""
    rec = next(r for r in records() if r["name"] == name)
    model = nasoa.create_model(name, pretrained=True, num_classes=1000).eval()
    # create_model replaced the head; put the ImageNet classifier back from the file.
    model.load_pretrained()
    with torch.no_grad():
        cat = model(_photo("chelsea", rec["mean"], rec["std"])).argmax(1).item()
        cup = model(_photo("coffee", rec["mean"], rec["std"])).argmax(1).item()
    assert 281 <= cat <= 285
    assert cup in (504, 967, 968)


def test_lite0_key_mapping():
    assert lite0_key("_blocks.0._depthwise_conv.weight") == "blocks.0.0.conv_dw.weight"
    assert lite0_key("_blocks.1._expand_conv.weight") == "blocks.1.0.conv_pw.weight"
    assert lite0_key("_blocks.3._bn2.bias") == "blocks.2.0.bn3.bias"
    assert lite0_key("_blocks.4._bn2.bias") == "blocks.2.1.bn3.bias"
    assert lite0_key("_blocks.15._project_conv.weight") == "blocks.6.0.conv_pwl.weight"
    assert lite0_key("_fc.weight") == "classifier.weight"


def test_zoo_list_json():
    r = runner.invoke(app, ["zoo", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert {x["name"] for x in rows} >= set(MEMBERS)
    for x in rows:
        assert x["params"] > 0 and 0 < x["source_accuracy"] <= 1 and x["train_step_ms"]["0"] > 0
        assert x["encoding"] or x["family"]


def test_zoo_show_and_errors():
    r = runner.invoke(app, ["zoo", "show", "mobilenetv2_imagenet"])
    assert r.exit_code == 0 and json.loads(r.output)["family"] == "mobilenetv2"
    r = runner.invoke(app, ["zoo", "show", "nope"])
    assert r.exit_code == 2 and r.output.startswith("error: no zoo member named 'nope'")


def test_zoo_add_user_member(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    monkeypatch.setenv("NASOA_ZOO_DIR", str(tmp_path / "userzoo"))
    import nasoa.core.models as M

    M.reset_registry()
    enc = "031-_8_1-1-21-1"
    torch.manual_seed(1)
    src = nasoa.create_model(enc, num_classes=3, input_size=16)
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, tmp_path / "w.safetensors")
    r = runner.invoke(app, ["zoo", "add", "my_net", "--encoding", enc, "--weights", str(tmp_path / "w.safetensors"),
                            "--input-size", "16"])
    assert r.exit_code == 0, r.output
    M.reset_registry()
    m = nasoa.create_model("my_net", pretrained=True, num_classes=4)
    assert torch.equal(m.state_dict()["stem.0.conv.weight"], src.state_dict()["stem.0.conv.weight"])
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    r = runner.invoke(app, ["zoo", "add", "other", "--encoding", enc, "--weights", str(bad)])
    assert r.exit_code == 2 and "cannot read" in r.output
    # A corrupted weights file of a registered member is caught by its checksum.
    (tmp_path / "userzoo" / "weights" / "my_net.safetensors").write_bytes(b"x" * 100)
    with pytest.raises(NasoaError, match="checksum"):
        nasoa.create_model("my_net", pretrained=True, num_classes=4)

