"""The ET-NAS encoding: exact published models, round trips, validation, sampling, mutation."""

import random

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from nasoa.core.models import PUBLISHED, create_model
from nasoa.core.net import ETNasNet
from nasoa.app.search import mutate
from nasoa.core.space import (
    Constraints,
    EncodingError,
    Layer,
    count_cost,
    describe,
    parse,
    sample,
)

# More encodings with published parameter counts (vega docs/model_zoo.md "DNet Part 2"), chosen for
# features the 12 ET-NAS rows lack: a macro that starts with '-', a skip into place 1, C0=128/48.
VEGA_EXTRA = {
    "011-_128_-111121111111-1211111112-11": (29.39, 6.23),
    "201-a01_64_4-121-1121-11112111": (41.83, 3.64),
    "333-a01_64_111-2111-211111-211": (13.47, 2.34),
    "10001-_48_41-1-221-11121": (11.80, 1.21),
    "31311-a02a12_64_211-2111-211111-211": (14.17, 2.32),
}


def _measured(encoding_or_name: str, size: int = 224, classes: int = 1000) -> tuple[int, int]:
    """Parameters (sum of numel) and MACs counted by torch's FLOP counter on a real forward pass."""
    with torch.device("meta"):
        model = create_model(encoding_or_name, num_classes=classes, input_size=size).eval()
        counter = FlopCounterMode(display=False)
        with counter:
            model(torch.empty(1, 3, size, size))
    params = sum(p.numel() for p in model.parameters())
    return params, counter.get_total_flops() // 2


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_models_match_table(name):
    encoding, info = PUBLISHED[name]
    params, macs = _measured(name)
    assert abs(params / 1e6 - info["mparams"]) / info["mparams"] < 0.01, (params, info)
    assert abs(macs / 1e9 - info["gmacs"]) / info["gmacs"] < 0.01, (macs, info)
    # The analytic counter in nasoa.core.space agrees with the network exactly.
    cost = count_cost(encoding, 224, 1000)
    assert (cost.params, cost.macs) == (params, macs)
    assert cost.final_hw == 7


@pytest.mark.parametrize("encoding", sorted(VEGA_EXTRA))
def test_vega_zoo_encodings_match(encoding):
    mparams, gmacs = VEGA_EXTRA[encoding]
    params, macs = _measured(encoding)
    assert abs(params / 1e6 - mparams) / mparams < 0.01
    assert abs(macs / 1e9 - gmacs) / gmacs < 0.015  # vega rounds GFLOPs to 2 decimals


def test_published_decodings():
    a = parse(PUBLISHED["etnas_a"][0])
    assert [layer.op_name for layer in a.block.layers] == ["conv3_grp2"]
    assert a.macro.blocks_per_stage() == (1, 2, 3, 7) and a.final_channels == 512
    f = parse(PUBLISHED["etnas_f"][0])  # a ResNet bottleneck
    assert [(x.op_name, x.ratio) for x in f.block.layers] == [("conv1", 0), ("conv3", 0), ("conv1", 2)]
    assert f.block.stride_layer == 1  # stride on the first non-1x1 op (ResNet v1.5)
    assert f.macro.blocks_per_stage() == (1, 3, 5, 16) and f.final_channels == 2048
    k = parse(PUBLISHED["etnas_k"][0])
    assert k.macro.blocks_per_stage() == (4, 27, 14, 1)
    lm = parse(PUBLISHED["etnas_l"][0])
    assert [str(s) for s in lm.block.all_skips()] == ["a02", "c12", "a03"]


def test_stage_rows_small_stem():
    rows = describe(parse("031-_32_1-1-221-11121"), 32)
    assert [r["out_hw"] for r in rows] == [32, 32, 16, 8, 4]
    assert rows[-1]["out_ch"] == 256


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_round_trip_published(name):
    enc = PUBLISHED[name][0]
    assert str(parse(enc)) == enc
    assert parse(enc) == parse(str(parse(enc)))


# (encoding, position named in the error, a word of the reason)
MALFORMED = [
    ("", 0, "3 parts"),
    ("031-_32", 7, "3 parts"),
    ("031-_32_1-1_2", 11, "3 parts"),
    ("_32_1-1", 0, "empty"),
    ("731-_32_1-1-221-11121", 0, "op digit 7"),
    ("051-_32_1-1-221-11121", 1, "ratio digit 5"),
    ("03-_32_1-1-221-11121", 2, "odd length"),
    ("0a1-_32_1-1-221-11121", 1, "not a digit"),
    ("031--_32_1-1-221-11121", 4, "second '-'"),
    ("031-x01_32_1-1-221-11121", 4, "skip type"),
    ("031-a0_32_1-1-221-11121", 4, "3-character"),
    ("031-a2x_32_1-1-221-11121", 6, "not a digit"),
    ("031-a22_32_1-1-221-11121", 5, "before the target"),
    ("031-a03_32_1-1-221-11121", 5, "does not exist"),
    ("031-a02_32_1-1-221-11121", 5, "implied residual"),
    ("03031-c03_32_1-1-221-11121", 7, "concat into the last place"),
    ("03031-a13a01_32_1-1-221-11121", 10, "out of order"),
    ("03031-a01a01_32_1-1-221-11121", 10, "second time"),
    ("031-_3x_1-1-221-11121", 6, "C0"),
    ("031-_032_1-1-221-11121", 5, "leading zero"),
    ("031-_33_1-1-221-11121", 5, "even"),
    ("031-_32_", 8, "macro is empty"),
    ("031-_32_1-1--221-11121", 12, "two '-'"),
    ("031-_32_1-1-231-11121", 13, "multiplier 3"),
    ("031-_32_1-1-221-", 15, "ends with '-'"),
    ("031-_32_1-1-221-1112x", 20, "not a block multiplier"),
    ("401-_32_2-1-1-1", 0, "groups"),  # depthwise op needs out % in == 0: 16 % 32
    ("5-_16_1-1-1-1", 0, "conv3_base32"),  # 32 input channels per group, C0 16
    (" 031-_32_1-1-221-11121", 0, "whitespace"),
]


@pytest.mark.parametrize("encoding,position,reason", MALFORMED)
def test_malformed_encodings_name_position(encoding, position, reason):
    with pytest.raises(EncodingError) as info:
        parse(encoding)
    err = info.value
    assert err.position == position, str(err)
    assert reason in err.reason, str(err)
    assert f"position {position}" in str(err)
    assert "\n" not in str(err)


def test_malformed_list_is_long_enough():
    assert len(MALFORMED) >= 15


def test_layer_record_round_trip():
    arch = parse("23311-a02c12_64_211-2111-21111111111111111111111-211")
    assert arch.block.layers[0] == Layer(2, 3)
    assert arch.block.n_layers == 3
    assert arch.depth == 3 + 33 * 3 + 1


def test_sample_deterministic_and_constrained():
    c = Constraints(c0_choices=(16, 32), min_depth=5, max_depth=9, n_downsamples=(3,), max_skips=1)
    a = [sample(s, c).encoding for s in range(20)]
    b = [sample(s, c).encoding for s in range(20)]
    assert a == b
    assert len(set(a)) > 15
    for enc in a:
        arch = parse(enc)
        assert c.check(arch) is None
        assert arch.macro.n_downsamples == 3 and arch.macro.n_stages == 4


def test_mutate_levels():
    rng = random.Random(0)
    base = parse("031-_32_1-1-221-11121")
    for _ in range(50):
        m = mutate(base, rng, level="block")
        assert m.macro == base.macro and m.block != base.block
        m = mutate(base, rng, level="macro")
        assert m.block == base.block and m.macro != base.macro


def test_max_params_constraint():
    c = Constraints(max_params=200_000, params_input_size=32, params_num_classes=10)
    for s in range(5):
        assert count_cost(sample(s, c), 32, 10).params <= 200_000


SMALL = Constraints(c0_choices=(8, 16), min_depth=3, max_depth=7, max_channels=128, n_doublings=(1, 2, 3))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_property_sample_and_mutate_round_trip(seed):
    rng = random.Random(seed)
    arch = sample(rng)
    assert parse(arch.encoding) == arch and str(parse(arch.encoding)) == arch.encoding
    for level in ("block", "macro", "any"):
        m = mutate(arch, rng, level=level)
        assert parse(m.encoding) == m and m.encoding != arch.encoding


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from(["block", "macro"]))
def test_property_built_networks_train_at_32px(seed, level):
    rng = random.Random(seed)
    arch = mutate(sample(rng, SMALL), rng, level=level, constraints=SMALL)
    assert str(parse(arch.encoding)) == arch.encoding
    torch.manual_seed(seed % 1000)
    net = ETNasNet(arch, num_classes=3, input_size=32)
    x = torch.randn(2, 3, 32, 32)
    out = net(x)
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    out.sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    cost = count_cost(arch, 32, 3)
    assert cost.params == sum(p.numel() for p in net.parameters())
