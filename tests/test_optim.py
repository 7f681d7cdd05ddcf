"""nasoa.core.optim follows torch.optim step by step (it exists only to avoid torch.optim's import cost)."""

import pytest
import torch

from nasoa.core import optim


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))


def _groups(m, wd):
    decay = [p for p in m.parameters() if p.ndim > 1]
    no = [p for p in m.parameters() if p.ndim <= 1]
    return [{"params": decay, "weight_decay": wd}, {"params": no, "weight_decay": 0.0}]


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("sgd", dict(lr=0.05, momentum=0.9, nesterov=False)),
        ("sgd", dict(lr=0.05, momentum=0.0, nesterov=False)),
        ("adamw", dict(lr=0.01)),
    ],
)
def test_matches_torch_optim(name, kwargs):
    a, b = _model(), _model()
    ours = (optim.SGD if name == "sgd" else optim.AdamW)(_groups(a, 0.01), **kwargs)
    ref = (torch.optim.SGD if name == "sgd" else torch.optim.AdamW)(_groups(b, 0.01), **kwargs)
    g = torch.Generator().manual_seed(1)
    for step in range(6):
        x = torch.randn(16, 5, generator=g)
        y = torch.randint(0, 3, (16,), generator=g)
        for m, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
            if step == 3:  # a changed learning rate is honoured
                for grp in opt.param_groups:
                    grp["lr"] *= 0.5
            opt.step()
        for pa, pb in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_frozen_params_untouched_and_state_round_trip():
    m = _model()
    m[0].weight.requires_grad_(False)
    w0 = m[0].weight.clone()
    opt = optim.SGD(_groups(m, 1e-3), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        m(torch.randn(4, 5)).sum().backward()
        opt.step()
    assert torch.equal(m[0].weight, w0)
    state = opt.state_tensors()
    assert state and all(k.endswith("momentum_buffer") for k in state)
    opt2 = optim.SGD(_groups(m, 1e-3), lr=0.1, momentum=0.9)
    opt2.load_state_tensors(state)
    assert all(torch.equal(opt2.state_tensors()[k], v) for k, v in state.items())
