"""The network builder and the registry."""

import pytest
import torch
from torch import nn

import nasoa
from nasoa.core.errors import NasoaError, PretrainedUnavailableError
from nasoa.kernels import BatchNormAct2d
from nasoa.core.models import PUBLISHED
from nasoa.core.net import ETNasNet

SMALL = "23311-a02c12_16_1-2-21-2"


def test_every_bn_site_is_the_fused_module():
    net = ETNasNet(SMALL, num_classes=4, input_size=32)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(isinstance(m, BatchNormAct2d) for m in bns)
    # BN+add+ReLU is fused at the last place of every block (the residual target).
    fused_with_relu = [m for m in bns if m.relu]
    assert len(fused_with_relu) >= 3 + 5  # 3 stem convs + the last layer of each of the 5 blocks


def test_state_dict_keys_match_batchnorm():
    bn = BatchNormAct2d(7)
    ref = nn.BatchNorm2d(7)
    assert list(bn.state_dict()) == list(ref.state_dict())
    bn.load_state_dict(ref.state_dict())


def test_matches_reference_semantics():
    """Fused path == etnas.py's order: skips on pre-ReLU tensors, ReLU after the merge."""
    torch.manual_seed(0)
    net = ETNasNet("03031-a01c12_8_1-2", num_classes=3, input_size=16).eval()
    for m in net.modules():  # random BN statistics so the check is not trivial
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(2, 3, 16, 16)
    block = net.stages[0][0]
    h = net.stem(x)

    def op(i, inp):
        layer = block.layers[i]
        return torch.nn.functional.batch_norm(
            layer.conv(inp), layer.bn.running_mean, layer.bn.running_var, layer.bn.weight, layer.bn.bias, False
        )

    def proj(s, inp):
        return op_proj(s.proj, inp) if s.proj is not None else inp

    def op_proj(cb, inp):
        return torch.nn.functional.batch_norm(cb.conv(inp), cb.bn.running_mean, cb.bn.running_var, cb.bn.weight, cb.bn.bias, False)

    outs = [h]
    p1 = op(0, h)
    outs.append(p1)
    outs[1] = proj(block.skips[0][0], outs[0]) + outs[1]  # a01
    cur = torch.relu(outs[1])
    outs.append(op(1, cur))
    outs[2] = torch.cat([proj(block.skips[1][0], outs[1]), outs[2]], 1)  # c12
    cur = torch.relu(outs[2])
    outs.append(op(2, cur))
    outs[3] = proj(block.skips[2][0], outs[0]) + outs[3]  # implied a03
    expected = torch.relu(outs[3])
    assert torch.allclose(block(h), expected, atol=1e-6)


def test_stages_classifier_features():
    net = ETNasNet(SMALL, num_classes=4, input_size=32)
    assert net.num_stages == 4
    x = torch.randn(2, 3, 32, 32)
    feats = net.forward_features(x)
    assert feats.shape == (2, net.num_features, 4, 4)
    net.reset_classifier(9)
    assert net(x).shape == (2, 9)
    net.reset_classifier(0)
    assert net(x).shape == (2, net.num_features)
    assert net.frozen_modules(0) == []
    assert net.frozen_modules(2) == [net.stem, net.stages[0], net.stages[1]]
    with pytest.raises(ValueError):
        net.frozen_modules(5)


def test_large_and_small_stem_share_keys():
    a = ETNasNet(SMALL, num_classes=4, input_size=224)
    b = ETNasNet(SMALL, num_classes=4, input_size=32)
    assert a.stem_type == "large" and b.stem_type == "small"
    b.load_state_dict(a.state_dict())
    assert a(torch.randn(1, 3, 64, 64)).shape == (1, 4)


def test_registry():
    names = nasoa.list_models("etnas_*")
    assert set(PUBLISHED) <= set(names)
    assert nasoa.list_models("etnas_a") == ["etnas_a"]
    m = nasoa.create_model("etnas_a", num_classes=5, input_size=32)
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    m = nasoa.create_model(SMALL, num_classes=3, input_size=16, in_chans=1)
    assert m(torch.randn(2, 1, 16, 16)).shape == (2, 3)


def test_registry_errors():
    with pytest.raises(PretrainedUnavailableError, match="no pretrained weights for 'etnas_b'"):
        nasoa.create_model("etnas_b", pretrained=True)
    with pytest.raises(NasoaError, match="unknown model 'resnet_nope'"):
        nasoa.create_model("resnet_nope")
    with pytest.raises(nasoa.EncodingError, match="position 0"):
        nasoa.create_model("9-_32_1-1")
