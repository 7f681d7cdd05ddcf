"""SGD (momentum, Nesterov) and AdamW with torch's update rules, on ``torch._foreach_*`` ops.

Why not ``torch.optim``: constructing or stepping any ``torch.optim`` optimizer imports
``torch._dynamo`` (its methods are wrapped in ``_disable_dynamo``), which costs 1.5-3 s on the
reference CPU machine: 10-15% of a 20 s fine-tuning budget, spent before the first step. These
two optimizers are all the regime space uses; ``tests/test_optim.py`` checks them step by step
against ``torch.optim.SGD`` and ``torch.optim.AdamW``.
"""

from __future__ import annotations

import math

import torch


class _Base:
    def __init__(self, groups: list[dict], defaults: dict):
        self.param_groups = []
        for g in groups:
            params = [p for p in g["params"] if p.requires_grad]
            self.param_groups.append({**defaults, **g, "params": params})
        self.state: dict[int, dict[str, torch.Tensor]] = {}
        self._index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                p.grad = None

    def _with_grads(self, g: dict) -> tuple[list[torch.Tensor], list[torch.Tensor], list[int]]:
        ps, gs, ids = [], [], []
        for p in g["params"]:
            if p.grad is not None:
                ps.append(p)
                gs.append(p.grad)
                ids.append(self._index[id(p)])
        return ps, gs, ids

    # A flat, pickle-free state for checkpoints: {"<param index>.<name>": tensor}.
    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {f"{i}.{k}": v for i, st in self.state.items() for k, v in st.items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        state: dict[int, dict[str, torch.Tensor]] = {}
        devices = {self._index[id(p)]: p.device for g in self.param_groups for p in g["params"]}
        for key, v in tensors.items():
            i, name = key.split(".", 1)
            i = int(i)
            if i not in devices:
                raise ValueError(f"optimizer state for parameter {i}, which this model does not train")
            state.setdefault(i, {})[name] = v.to(devices[i])
        self.state = state


class SGD(_Base):
    """torch.optim.SGD semantics (dampening 0): decoupled from nothing, L2 weight decay in the grad."""

    def __init__(self, groups: list[dict], lr: float, momentum: float = 0.9, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(groups, {"lr": lr, "momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self) -> None:
        for g in self.param_groups:
            ps, gs, ids = self._with_grads(g)
            if not ps:
                continue
            if g["weight_decay"]:
                gs = torch._foreach_add(gs, ps, alpha=g["weight_decay"])
            if g["momentum"]:
                bufs = []
                for grad, i in zip(gs, ids):
                    st = self.state.setdefault(i, {})
                    if "momentum_buffer" not in st:
                        st["momentum_buffer"] = torch.clone(grad).detach()
                        bufs.append(None)
                    else:
                        bufs.append(st["momentum_buffer"])
                old = [(b, grad) for b, grad in zip(bufs, gs) if b is not None]
                if old:
                    b_list = [b for b, _ in old]
                    torch._foreach_mul_(b_list, g["momentum"])
                    torch._foreach_add_(b_list, [gr for _, gr in old])
                bufs = [self.state[i]["momentum_buffer"] for i in ids]
                if g["nesterov"]:
                    gs = torch._foreach_add(gs, bufs, alpha=g["momentum"])
                else:
                    gs = bufs
            torch._foreach_add_(ps, gs, alpha=-g["lr"])


class AdamW(_Base):
    """torch.optim.AdamW semantics (betas 0.9/0.999, eps 1e-8, decoupled weight decay)."""

    def __init__(self, groups: list[dict], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(groups, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self) -> None:
        for g in self.param_groups:
            ps, gs, ids = self._with_grads(g)
            if not ps:
                continue
            b1, b2 = g["betas"]
            lr = g["lr"]
            for p, i in zip(ps, ids):
                st = self.state.setdefault(i, {})
                if "step" not in st:
                    st["step"] = torch.zeros((), dtype=torch.float32)
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["step"] += 1
            steps = [float(self.state[i]["step"]) for i in ids]
            m = [self.state[i]["exp_avg"] for i in ids]
            v = [self.state[i]["exp_avg_sq"] for i in ids]
            if g["weight_decay"]:
                torch._foreach_mul_(ps, 1 - lr * g["weight_decay"])
            torch._foreach_lerp_(m, gs, 1 - b1)
            torch._foreach_mul_(v, b2)
            torch._foreach_addcmul_(v, gs, gs, 1 - b2)
            # Parameters of one group share their step count in practice; handle them one by one
            # where they differ (e.g. after a resume that added parameters).
            for s in set(steps):
                sel = [k for k, x in enumerate(steps) if x == s]
                bc1 = 1 - b1**s
                bc2 = 1 - b2**s
                denom = torch._foreach_sqrt([v[k] for k in sel])
                torch._foreach_div_(denom, math.sqrt(bc2))
                torch._foreach_add_(denom, g["eps"])
                torch._foreach_addcdiv_([ps[k] for k in sel], [m[k] for k in sel], denom, -lr / bc1)
