"""Every registered model builds, runs forward and backward, and fine-tunes from its weights (after
timm's tests over ``list_models()``): small inputs on the CPU; the published ET-NAS models above
10 M parameters are marked slow (1-11 s each here)."""

from __future__ import annotations

import pytest
import torch

import nasoa
from nasoa.core.models import get_entry

SIZE = 32  # small enough for every model's stride (1x1 after the last stage), fast on the CPU
NUM_CLASSES = 3


def _mparams(name: str) -> float:
    info = get_entry(name).info
    return float(info.get("mparams") or float(info.get("params") or 0) / 1e6)


def _cases(pretrained: bool | None = None) -> list:
    names = nasoa.list_models(pretrained=pretrained)
    return [pytest.param(n, marks=pytest.mark.slow) if _mparams(n) > 10 else n for n in names]


def _forward_backward(model: torch.nn.Module, in_chans: int = 3) -> None:
    model.train()
    x = torch.randn(2, in_chans, SIZE, SIZE)
    out = model(x)
    assert out.shape == (2, NUM_CLASSES) and torch.isfinite(out).all()
    out.logsumexp(1).mean().backward()
    trainable = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    assert trainable
    missing = [k for k, p in trainable if p.grad is None]
    assert not missing, f"parameters without a gradient: {missing[:5]}"
    bad = [k for k, p in trainable if not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad[:5]}"
    model.eval()
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, NUM_CLASSES) and torch.isfinite(y).all()


def test_the_registry_holds_the_published_models_and_the_zoo():
    names = nasoa.list_models()
    assert {f"etnas_{c}" for c in "abcdefghijkl"} <= set(names)
    assert len(nasoa.list_models(pretrained=True)) >= 6 and len(_cases()) == len(names)


@pytest.mark.parametrize("name", _cases())
def test_model_forward_backward(name):
    torch.manual_seed(0)
    _forward_backward(nasoa.create_model(name, num_classes=NUM_CLASSES, input_size=SIZE))


@pytest.mark.parametrize("name", _cases(pretrained=True))
def test_pretrained_model_loads_its_weights_and_trains_a_new_head(name):
    torch.manual_seed(0)
    fresh = nasoa.create_model(name, num_classes=NUM_CLASSES, input_size=SIZE)
    model = nasoa.create_model(name, pretrained=True, num_classes=NUM_CLASSES, input_size=SIZE)
    body = [k for k, _ in model.named_parameters()][:-2]  # all but the new head's weight and bias
    assert any(not torch.equal(dict(model.named_parameters())[k], dict(fresh.named_parameters())[k]) for k in body), \
        "pretrained=True gave the random initialisation"
    _forward_backward(model)


def test_a_source_registered_again_replaces_the_entries_it_supplied():
    from nasoa.core import models as M

    try:
        M.register_source("test-family", lambda: [M.ModelEntry("test_a", encoding=M.PUBLISHED["etnas_a"][0])])
        assert M.is_model("test_a")
        M.register_source("test-family", lambda: [M.ModelEntry("test_b", encoding=M.PUBLISHED["etnas_a"][0])])
        assert M.is_model("test_b") and not M.is_model("test_a")
        M.reset_registry()
        assert M.is_model("test_b")  # read again on the next lookup
    finally:
        M._forget("test-family")
        M._SOURCES.pop("test-family", None)
    assert not M.is_model("test_b") and M.is_model("etnas_a")
