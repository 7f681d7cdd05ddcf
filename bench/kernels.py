"""``nasoa bench kernels``: fused BatchNorm2d + residual + ReLU against its unfused and compiled rivals.

For ET-NAS-shaped activations it times, per pass (training forward; forward + backward):

* ``eager``: ``nn.BatchNorm2d`` then ``+ residual`` then ``relu``, three eager ops (the baseline);
* ``nasoa-torch``: :class:`nasoa.kernels.BatchNormAct2d` on its torch reference path;
* ``compile``: ``torch.compile`` of the eager version (on CPU only with ``--compile``: a cold
  compile costs about 60 s per shape there);
* ``nasoa-triton``: :class:`BatchNormAct2d` on its Triton path (GPU only; on CPU the row says it
  needs a GPU and nothing is timed: the interpreter measures Python, not kernels).

Timing: CUDA events on a GPU, ``time.perf_counter`` on CPU; warm-up calls first (they include
autotuning and compilation), then ``repeats`` samples of ``inner`` calls each; the median and the
inter-quartile range of ms per call are reported. Bandwidth: GB/s from :func:`bytes_moved` (the
traffic of the fused kernels, counted the same for every variant, so it is an *effective*
bandwidth that compares variants on one scale) and its % of the device's measured copy bandwidth
(a large ``clone``: read + write). Results go to ``kernels.json`` and ``kernels.md`` with
:func:`nasoa.bench.provenance.provenance`.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from nasoa.kernels import BatchNormAct2d

from .provenance import fields, provenance

__all__ = ["Shape", "SHAPES", "QUICK_SHAPES", "bytes_moved", "copy_bandwidth", "run", "write_results"]


@dataclass(frozen=True)
class Shape:
    """One (N, C, H, W) activation at a fused BN site."""

    name: str
    N: int
    C: int
    H: int
    W: int

    @property
    def numel(self) -> int:
        return self.N * self.C * self.H * self.W

    def __str__(self) -> str:
        return f"{self.N}x{self.C}x{self.H}x{self.W}"


#: ET-NAS stages at 224 px (stride-4 stem: 56, 28, 14, 7 px; C from 64 to 512) at batch 64, and
#: small-image (8-64 px, stride-1 stem) stages at batch 128.
SHAPES: tuple[Shape, ...] = (
    Shape("224px-s1", 64, 64, 56, 56),
    Shape("224px-s1-wide", 64, 256, 56, 56),
    Shape("224px-s2", 64, 128, 28, 28),
    Shape("224px-s2-wide", 64, 512, 28, 28),
    Shape("224px-s3", 64, 256, 14, 14),
    Shape("224px-s4", 64, 512, 7, 7),
    Shape("32px-s1", 128, 32, 32, 32),
    Shape("32px-s2", 128, 64, 16, 16),
    Shape("32px-s3", 128, 128, 8, 8),
)
#: A few small shapes for a smoke run (``--quick``).
QUICK_SHAPES: tuple[Shape, ...] = (
    Shape("quick-a", 16, 32, 16, 16),
    Shape("quick-b", 16, 64, 8, 8),
    Shape("quick-c", 16, 128, 4, 4),
)

VARIANTS = ("eager", "nasoa-torch", "compile", "nasoa-triton")
PASSES = ("fwd", "fwd+bwd")


def bytes_moved(shape: Shape, element_size: int, residual: bool = True, relu: bool = True,
                training: bool = True) -> dict[str, int]:
    """Bytes the fused kernels read and write per call (C-sized vectors ignored); E = N*C*H*W.

    Training forward: the statistics pass reads x (E*s); the apply pass reads x and the residual
    and writes y (3*E*s with a residual) and the 1-bit ReLU mask (E/8).
    Frozen forward: the apply pass only.
    Training backward: the reduction pass reads dy, x and the mask; the elementwise pass reads
    them again and writes dx and d(residual): (2+2+1+1)*E*s + 2*E/8 with a residual and ReLU.
    Frozen backward: one elementwise pass: read dy and the mask, write dx and d(residual).
    ``fwd+bwd`` is the sum. The same count is used for every variant.
    """
    E, s = shape.numel, element_size
    mask = (E + 7) // 8 if relu else 0
    res = 1 if residual else 0
    apply = E * s * (2 + res) + mask  # read x (+ residual), write y, write mask
    if training:
        fwd = E * s + apply
        bwd = 2 * (2 * E * s + mask) + E * s * (1 + res)  # 2x read dy, x, mask; write dx (+ dres)
    else:
        fwd = apply
        bwd = E * s * (2 + res) + mask  # read dy, mask; write dx (+ dres)
    return {"fwd": fwd, "fwd+bwd": fwd + bwd}


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def _timer(device):
    """A function (fn, inner) -> seconds for ``inner`` calls, with the right clock for the device."""
    if device.type == "cuda":

        def timed(fn: Callable[[], object], inner: int) -> float:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3

        return timed

    def timed_cpu(fn: Callable[[], object], inner: int) -> float:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        return time.perf_counter() - t0

    return timed_cpu


def _measure(fn, device, warmup: int, repeats: int, min_sample_s: float) -> dict:
    """Median and IQR of ms per call; ``inner`` calls per sample so a sample lasts min_sample_s."""
    timed = _timer(device)
    for _ in range(warmup):
        fn()
    one = max(timed(fn, 1), 1e-7)
    inner = max(1, min(1000, int(min_sample_s / one)))
    samples = [timed(fn, inner) / inner * 1e3 for _ in range(repeats)]
    q = statistics.quantiles(samples, n=4, method="inclusive") if len(samples) > 1 else [samples[0]] * 3
    return {"ms": statistics.median(samples), "iqr_ms": q[2] - q[0], "inner": inner, "samples": len(samples)}


def copy_bandwidth(device, mib: int | None = None, repeats: int = 10) -> dict:
    """Measured copy bandwidth of the device: a large tensor copied into a preallocated one
    (``dst.copy_(src)``, what ``clone`` does minus the allocation), bytes read + written.

    The destination is preallocated because on CPU a fresh 256 MiB ``clone`` also pays the page
    faults of new memory (about half the copy rate on the machine this was written on), which is
    not memory bandwidth.
    """
    mib = mib or (1024 if device.type == "cuda" else 256)
    src = torch.ones(mib * 2**20, dtype=torch.uint8, device=device)
    dst = torch.zeros_like(src)
    m = _measure(lambda: dst.copy_(src), device, warmup=3, repeats=repeats, min_sample_s=0.02)
    gbps = 2 * src.numel() / (m["ms"] / 1e3) / 1e9
    return {"bytes": src.numel(), "ms": m["ms"], "iqr_ms": m["iqr_ms"], "gbps": gbps, "method": "dst.copy_(src)"}


@contextmanager
def _kernels_env(value: str):
    old = os.environ.get("NASOA_KERNELS")
    os.environ["NASOA_KERNELS"] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("NASOA_KERNELS", None)
        else:
            os.environ["NASOA_KERNELS"] = old


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    shape: str
    shape_name: str
    variant: str
    pass_: str
    status: str  # "ok", or why it was not measured
    ms: float | None = None
    iqr_ms: float | None = None
    gbps: float | None = None
    pct_copy: float | None = None
    bytes: int | None = None
    inner: int | None = None
    samples: int | None = None


def _make_variant(variant: str, C: int, relu: bool, device, training: bool):
    """``(callable(x, residual) -> y, module)`` for one variant; parameters stay fp32 (as under AMP)."""
    if variant in ("eager", "compile"):
        bn = nn.BatchNorm2d(C, device=device).train(training)

        def eager(x, res):
            y = bn(x) + res
            return F.relu(y) if relu else y

        fn = torch.compile(eager, dynamic=False) if variant == "compile" else eager
        return fn, bn
    m = BatchNormAct2d(C, relu=relu, device=device).train(training)
    return (lambda x, res: m(x, res)), m


def run(
    shapes: tuple[Shape, ...] = SHAPES,
    device: str = "auto",
    dtype: str = "auto",
    layout: str = "channels_last",
    training: bool = True,
    repeats: int = 20,
    warmup: int = 5,
    compile_: bool | None = None,
    variants: tuple[str, ...] = VARIANTS,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Time every (shape, variant, pass); returns the result dict that :func:`write_results` writes."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    on_gpu = dev.type == "cuda"
    dt = {"auto": torch.float16 if on_gpu else torch.float32, "float32": torch.float32, "float16": torch.float16,
          "bfloat16": torch.bfloat16}[dtype]
    compile_ = on_gpu if compile_ is None else compile_
    min_sample_s = 0.005 if on_gpu else 0.01
    say = progress or (lambda _msg: None)
    say(f"copy bandwidth on {dev}")
    copy = copy_bandwidth(dev)
    rows: list[Row] = []
    element = torch.empty((), dtype=dt).element_size()
    gen = torch.Generator(device=dev).manual_seed(0)
    for shape in shapes:
        nbytes = bytes_moved(shape, element, residual=True, relu=True, training=training)
        x0 = torch.randn((shape.N, shape.C, shape.H, shape.W), device=dev, dtype=dt, generator=gen)
        r0 = torch.randn(x0.shape, device=dev, dtype=dt, generator=gen)
        if layout == "channels_last":
            x0 = x0.contiguous(memory_format=torch.channels_last)
            r0 = r0.contiguous(memory_format=torch.channels_last)
        dy = torch.randn(x0.shape, device=dev, dtype=dt, generator=gen).contiguous(
            memory_format=torch.channels_last if layout == "channels_last" else torch.contiguous_format)
        for variant in variants:
            skip = None
            if variant == "nasoa-triton" and not on_gpu:
                skip = "needs a GPU (not measured: the CPU interpreter times Python, not kernels)"
            elif variant == "compile" and not compile_:
                skip = "skipped: pass --compile (a cold torch.compile costs about 60 s per shape on CPU)"
            if skip:
                rows += [Row(str(shape), shape.name, variant, p, skip) for p in PASSES]
                continue
            env = "triton" if variant == "nasoa-triton" else "torch"
            with _kernels_env(env):
                fn, module = _make_variant(variant, shape.C, True, dev, training)
                x = x0.detach().requires_grad_()
                res = r0.detach().requires_grad_()
                params = [p for p in module.parameters() if p.requires_grad]

                def fwd():
                    return fn(x, res)

                def fwd_bwd():
                    y = fn(x, res)
                    return torch.autograd.grad(y, [x, res, *params], dy)

                for pass_, call in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
                    say(f"{shape} {variant} {pass_}")
                    try:
                        m = _measure(call, dev, warmup, repeats, min_sample_s)
                    except Exception as e:  # noqa: BLE001 - a failing variant is a result, not a crash
                        why = f"error: {type(e).__name__}: {e}"[:300]
                        rows.append(Row(str(shape), shape.name, variant, pass_, why))
                        continue
                    gbps = nbytes[pass_] / (m["ms"] / 1e3) / 1e9
                    rows.append(Row(str(shape), shape.name, variant, pass_, "ok", m["ms"], m["iqr_ms"], gbps,
                                    100 * gbps / copy["gbps"], nbytes[pass_], m["inner"], m["samples"]))
        del x0, r0, dy
    return {
        "suite": "kernels",
        "provenance": provenance(),
        "settings": {
            "device": str(dev),
            "dtype": str(dt).removeprefix("torch."),
            "layout": layout,
            "mode": "train" if training else "eval",
            "residual": True,
            "relu": True,
            "repeats": repeats,
            "warmup": warmup,
            "compile": compile_,
            "clock": "cuda events" if on_gpu else "time.perf_counter",
            "bytes_formula": (bytes_moved.__doc__ or "").strip(),
        },
        "copy_bandwidth": copy,
        "gpu_measured": on_gpu,
        "rows": [_row_dict(r) for r in rows],
    }


def _row_dict(r: Row) -> dict:
    d = asdict(r)
    d["pass"] = d.pop("pass_")
    return d


def _fmt(v: float | None, spec: str) -> str:
    return "" if v is None else format(v, spec)


def to_markdown(result: dict) -> str:
    """The result as a markdown report: provenance, settings, the table, and what was not measured."""
    p, s, c = fields(result["provenance"]), result["settings"], result["copy_bandwidth"]
    gpu = p["gpu"]
    if gpu:
        machine = f"{gpu['name']} (driver {gpu['driver']}, CUDA {gpu['cuda']}); CPU {p['cpu']}"
    else:
        machine = f"CPU only: {p['cpu']}, {p['cpu_cores']} cores"
    git = p.get("git") or {}
    lines = [
        "# nasoa bench kernels: BatchNorm2d + residual + ReLU",
        "",
        f"- date: {p['date']}; machine: {machine}",
        f"- python {p['python']}, torch {p['torch']}, triton {p['triton']}, numpy {p['numpy']}, nasoa {p['nasoa']}"
        + (f", git {git.get('commit', '')[:12]}{' (dirty)' if git.get('dirty') else ''}" if git else ""),
        f"- device {s['device']}, dtype {s['dtype']}, layout {s['layout']}, mode {s['mode']}, residual + ReLU; "
        f"clock: {s['clock']}; {s['warmup']} warm-up calls, {s['repeats']} samples; median and IQR of ms per call",
        f"- measured copy bandwidth (copy of {c['bytes'] / 2**20:.0f} MiB into a preallocated tensor, read + write): "
        f"{c['gbps']:.1f} GB/s",
        "- GB/s = bytes the fused kernels move (`nasoa.bench.kernels.bytes_moved`, the same count for every "
        "variant) / median time; % copy = that / the copy bandwidth",
    ]
    if not result["gpu_measured"]:
        lines.append("- CPU: tensors that fit in cache can exceed 100% of the (DRAM) copy bandwidth; the cores may be "
                     "shared, so treat milliseconds as +-20%.")
        lines.append("- **GPU speed: unmeasured.** This run had no GPU; the Triton rows are not timed, and no "
                     "number here is an estimate of GPU performance.")
    lines += [
        "",
        "| shape | name | variant | pass | ms (median) | IQR ms | GB/s | % copy BW | note |",
        "|---|---|---|---|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        note = "" if r["status"] == "ok" else r["status"]
        lines.append(
            f"| {r['shape']} | {r['shape_name']} | {r['variant']} | {r['pass']} | {_fmt(r['ms'], '.3f')} | "
            f"{_fmt(r['iqr_ms'], '.3f')} | {_fmt(r['gbps'], '.1f')} | {_fmt(r['pct_copy'], '.0f')} | {note} |"
        )
    return "\n".join(lines) + "\n"


def default_out_dir(result: dict) -> Path:
    p = fields(result["provenance"])
    gpu = p["gpu"]
    dev = "cpu" if not gpu else "cuda-" + "".join(ch if ch.isalnum() else "-" for ch in gpu["name"].lower()).strip("-")
    return Path("bench") / "results" / f"kernels-{dev}-{p['date'][:10]}"


def write_results(result: dict, out: Path | None = None) -> Path:
    """Write ``kernels.json`` and ``kernels.md`` into ``out`` (created); returns the directory."""
    out = Path(out) if out is not None else default_out_dir(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "kernels.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "kernels.md").write_text(to_markdown(result))
    return out
