"""Fused BatchNorm2d (+ residual) (+ ReLU): Triton kernels (interpreted on CPU) against torch.

Every kernel test runs with ``POISON_OUTPUTS`` on: each buffer a kernel writes (outputs, gradients,
statistics, partial sums, the ReLU mask) starts as NaN / 0xA5, so an element left unwritten fails.
conftest.py sets TRITON_INTERPRET=1 before anything defines a @triton.jit function.
"""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
import textwrap
import zlib
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasoa.kernels import BatchNormAct2d, KernelConfigError, bn_act_reference, requested_backend, select_backend

triton = pytest.importorskip("triton")
interpreted = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
needs_kernels = pytest.mark.skipif(
    not (interpreted or torch.cuda.is_available()), reason="Triton kernels need a GPU or TRITON_INTERPRET=1"
)

# (forward rtol, atol), (gradient rtol, atol)
TOL = {
    torch.float32: ((1e-5, 1e-5), (1e-4, 1e-4)),
    torch.float16: ((1e-2, 1e-2), (1e-2, 1e-2)),
    torch.bfloat16: ((1.6e-2, 1e-2), (1.6e-2, 1e-2)),
}


@pytest.fixture
def K(monkeypatch):
    """The Triton module with output poisoning on."""
    from nasoa.kernels import bn_act_triton

    monkeypatch.setattr(bn_act_triton, "POISON_OUTPUTS", True)
    return bn_act_triton


@dataclass(frozen=True)
class Case:
    shape: tuple[int, int, int, int]
    channels_last: bool = False
    residual: bool = True
    relu: bool = True
    training: bool = True
    running: bool = True  # track running statistics
    affine: bool = True
    frozen_params: bool = False  # weight/bias do not require grad (frozen BN in fine-tuning)
    residual_nchw: bool = False  # residual in NCHW while x is channels_last (layout conversion)

    def __str__(self) -> str:
        flags = [
            "cl" if self.channels_last else "nchw",
            "res" if self.residual else "",
            "relu" if self.relu else "",
            "train" if self.training else "eval",
            "" if self.running else "norun",
            "" if self.affine else "noaffine",
            "frozen" if self.frozen_params else "",
            "resnchw" if self.residual_nchw else "",
        ]
        return "x".join(map(str, self.shape)) + "-" + "-".join(f for f in flags if f)


CASES = [
    Case((2, 3, 4, 4)),
    Case((2, 3, 4, 4), channels_last=True),
    Case((4, 7, 5, 5), residual=False),  # prime C
    Case((3, 13, 6, 6), channels_last=True, relu=False),  # prime C, no ReLU
    Case((8, 5, 1, 1)),  # H = W = 1, N > 1
    Case((1, 6, 7, 9)),  # N = 1, H*W > 1
    Case((1, 6, 7, 9), channels_last=True, residual=False),
    Case((2, 67, 3, 3), channels_last=True, residual_nchw=True),  # two channel blocks, prime C
    Case((5, 4, 11, 13)),  # M = 715: several reduction parts, several tiles per part
    Case((2, 8, 6, 6), running=False),  # track_running_stats=False
    Case((2, 6, 5, 5), affine=False, channels_last=True),
    Case((2, 16, 8, 8), training=False),
    Case((2, 16, 8, 8), training=False, channels_last=True, residual=False, relu=False),
    Case((3, 5, 1, 1), training=False),
    Case((1, 3, 1, 1), training=False),  # one value per channel is legal in eval mode
    Case((2, 11, 6, 5), training=False, frozen_params=True, channels_last=True),  # frozen-BN fine-tuning
]


def _inputs(case: Case, dtype: torch.dtype, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    N, C, H, W = case.shape
    x = (torch.randn(case.shape, generator=g) * 1.7 + 0.6).to(dtype)
    if case.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    res = torch.randn(case.shape, generator=g).to(dtype) if case.residual else None
    if res is not None and case.channels_last and not case.residual_nchw:
        res = res.contiguous(memory_format=torch.channels_last)
    w = torch.randn(C, generator=g) if case.affine else None
    b = torch.randn(C, generator=g) if case.affine else None
    rm = torch.randn(C, generator=g) * 0.5 if case.running or not case.training else None
    rv = torch.rand(C, generator=g) + 0.5 if case.running or not case.training else None
    dy = torch.randn(case.shape, generator=g).to(dtype)  # NCHW even when x is channels_last
    return x, w, b, rm, rv, res, dy


def _run(fn, case: Case, x, w, b, rm, rv, res, dy, compute_dtype=None):
    """Forward + backward of ``fn`` on fresh leaves; returns outputs, running stats and grads."""
    cast = (lambda t: t.to(compute_dtype)) if compute_dtype is not None else (lambda t: t)
    xl = cast(x.detach()).requires_grad_()
    wl = w.detach().clone().requires_grad_(not case.frozen_params) if w is not None else None
    bl = b.detach().clone().requires_grad_(not case.frozen_params) if b is not None else None
    rl = cast(res.detach()).requires_grad_() if res is not None else None
    rm = rm.clone() if rm is not None else None
    rv = rv.clone() if rv is not None else None
    y = fn(xl, wl, bl, rm, rv, rl, case.training, 0.1, 1e-5, case.relu)
    y.backward(cast(dy))
    return {
        "y": y,
        "running_mean": rm,
        "running_var": rv,
        "dx": xl.grad,
        "dweight": wl.grad if wl is not None else None,
        "dbias": bl.grad if bl is not None else None,
        "dresidual": rl.grad if rl is not None else None,
    }


def _torch_bn(x, w, b, rm, rv, res, training, momentum, eps, relu):
    """torch's own BatchNorm2d functional, then + residual, then ReLU: the ground truth."""
    y = F.batch_norm(x, rm, rv, w, b, training, momentum, eps)
    if res is not None:
        y = y + res
    return F.relu(y) if relu else y


def _compare(got: dict, want: dict, dtype: torch.dtype):
    (frtol, fatol), (grtol, gatol) = TOL[dtype]
    for key, ref in want.items():
        out = got[key]
        if ref is None:
            assert out is None, key
            continue
        assert out is not None, key
        assert torch.isfinite(out.float()).all(), f"{key} has unwritten (NaN) elements"
        fwd = key in ("y", "running_mean", "running_var")
        rtol, atol = (frtol, fatol) if fwd else (grtol, gatol)
        torch.testing.assert_close(out.float(), ref.float(), rtol=rtol, atol=atol, msg=lambda m: f"{key}: {m}")


# ---------------------------------------------------------------------------------------------
# Kernels vs torch
# ---------------------------------------------------------------------------------------------


@needs_kernels
@pytest.mark.parametrize("case", CASES, ids=str)
def test_kernels_match_torch_fp32(K, case):
    args = _inputs(case, torch.float32)
    got = _run(K.bn_act_triton, case, *args)
    want = _run(_torch_bn, case, *args)
    _compare(got, want, torch.float32)
    if case.channels_last:
        assert got["y"].is_contiguous(memory_format=torch.channels_last)
        assert got["dx"].stride() == args[0].stride()


HALF_CASES = [
    Case((2, 5, 6, 6)),
    Case((3, 7, 4, 4), channels_last=True),
    Case((2, 5, 6, 6), training=False),
]


@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("case", HALF_CASES, ids=str)
def test_kernels_match_torch_half(K, case, dtype):
    """fp16/bf16 kernels against torch computing in fp32 on the same (rounded) inputs."""
    x, w, b, rm, rv, res, dy = _inputs(case, dtype)
    got = _run(K.bn_act_triton, case, x, w, b, rm, rv, res, dy)
    assert got["y"].dtype == dtype and got["dx"].dtype == dtype
    want = _run(_torch_bn, case, x, w, b, rm, rv, res, dy, compute_dtype=torch.float32)
    _compare(got, want, dtype)


@needs_kernels
def test_training_with_one_value_per_channel_raises_like_torch(K):
    x = torch.randn(1, 4, 1, 1)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training") as ours:
        K.bn_act_triton(x, None, None, None, None, None, True, 0.1, 1e-5, True)
    with pytest.raises(ValueError) as theirs:
        F.batch_norm(x, None, None, training=True)
    assert str(ours.value) == str(theirs.value)


@needs_kernels
def test_saved_state_is_a_packed_bit_mask(K):
    """Backward keeps x, one bit per element and C-sized statistics: no pre-activation tensor."""
    shape = (3, 6, 5, 7)  # M = 105 rows: not a multiple of 8
    x = torch.randn(shape, requires_grad=True)
    w = torch.randn(6, requires_grad=True)
    b = torch.randn(6, requires_grad=True)
    res = torch.randn(shape, requires_grad=True)
    saved: list[torch.Tensor] = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = K.bn_act_triton(x, w, b, torch.zeros(6), torch.ones(6), res, True, 0.1, 1e-5, True)
    masks = [t for t in saved if t.dtype == torch.uint8]
    assert len(masks) == 1 and masks[0].numel() == K.mask_bytes(shape) == 6 * math.ceil(3 * 5 * 7 / 8)
    shared = (x.data_ptr(), w.data_ptr())  # x (every BatchNorm saves it) and the weight parameter
    others = [t for t in saved if t.data_ptr() not in shared and t.dtype != torch.uint8]
    assert len(others) == 2 and all(t.numel() == 6 for t in others)  # mean, invstd
    extra = sum(t.numel() * t.element_size() for t in saved if t.data_ptr() not in shared)
    assert extra == K.saved_bytes(shape, torch.float32)["fused_mask"]
    counts = K.saved_bytes((64, 256, 56, 56), torch.float16)
    assert counts["pre_activation"] / counts["fused_mask"] > 15
    y.sum().backward()  # the saved state suffices
    assert torch.isfinite(x.grad).all()


@needs_kernels
def test_no_grad_skips_the_mask(K):
    x = torch.randn(2, 3, 4, 4)
    with torch.no_grad():
        y = K.bn_act_triton(x, torch.ones(3), torch.zeros(3), None, None, None, True, 0.1, 1e-5, True)
    torch.testing.assert_close(y, F.relu(F.batch_norm(x, None, None, training=True)), rtol=1e-5, atol=1e-5)
    assert y.grad_fn is None


# ---------------------------------------------------------------------------------------------
# The torch path: gradcheck
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("residual,relu", [(True, True), (False, True), (True, False)])
def test_reference_gradcheck_float64(training, residual, relu):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    r = torch.randn(2, 3, 3, 2, generator=g, dtype=torch.float64, requires_grad=True) if residual else None
    rm = torch.zeros(3, dtype=torch.float64)
    rv = torch.ones(3, dtype=torch.float64)
    inputs = (x, w, b) + ((r,) if r is not None else ())

    def f(x, w, b, r=None):
        return bn_act_reference(x, w, b, rm.clone(), rv.clone(), r, training, 0.1, 1e-5, relu)

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# The module: a drop-in for nn.BatchNorm2d (+ add) (+ ReLU)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["torch", pytest.param("triton", marks=needs_kernels)])
@pytest.mark.parametrize("momentum", [0.1, None], ids=["m0.1", "cumulative"])
def test_module_matches_batchnorm2d(monkeypatch, backend, momentum):
    if backend == "triton":
        from nasoa.kernels import bn_act_triton

        monkeypatch.setattr(bn_act_triton, "POISON_OUTPUTS", True)
    monkeypatch.setenv("NASOA_KERNELS", backend)
    torch.manual_seed(0)
    C = 5
    ref = nn.BatchNorm2d(C, momentum=momentum)
    nn.init.normal_(ref.weight)
    nn.init.normal_(ref.bias)
    ours = BatchNormAct2d(C, relu=True, momentum=momentum)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    for step, training in enumerate([True, True, False]):
        ref.train(training)
        ours.train(training)
        x = torch.randn(3, C, 4, 4) + step
        res = torch.randn(3, C, 4, 4)
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ra, rb = res.clone().requires_grad_(), res.clone().requires_grad_()
        ya = F.relu(ref(xa) + ra)
        yb = ours(xb, rb)
        torch.testing.assert_close(yb, ya, rtol=1e-5, atol=1e-5)
        dy = torch.randn_like(ya)
        ya.backward(dy)
        yb.backward(dy)
        for a, b in [(xa.grad, xb.grad), (ra.grad, rb.grad), (ref.weight.grad, ours.weight.grad),
                     (ref.bias.grad, ours.bias.grad)]:
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)
        for name, buf in ref.named_buffers():
            torch.testing.assert_close(ours.get_buffer(name), buf, rtol=1e-5, atol=1e-6)
    assert int(ours.num_batches_tracked) == 2
    back = nn.BatchNorm2d(C)
    back.load_state_dict(ours.state_dict())  # and back: identical keys, shapes and dtypes
    for k, v in back.state_dict().items():
        assert torch.equal(v, ours.state_dict()[k])


def test_module_is_a_batchnorm2d():
    m = BatchNormAct2d(4, relu=False)
    assert isinstance(m, nn.BatchNorm2d)
    assert "relu=False" in repr(m)
    with pytest.raises(ValueError, match="residual shape"):
        m(torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 2))


# ---------------------------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------------------------


def test_dispatch_reads_the_environment_per_call(monkeypatch):
    x = torch.zeros(1)
    monkeypatch.delenv("NASOA_KERNELS", raising=False)
    assert requested_backend() == "auto" and select_backend(x) == "torch"  # CPU tensor
    monkeypatch.setenv("NASOA_KERNELS", "torch")
    assert select_backend(x) == "torch"
    monkeypatch.setenv("NASOA_KERNELS", " Triton ")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert select_backend(x) == "triton"
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(KernelConfigError, match="TRITON_INTERPRET"):
        select_backend(x)
    monkeypatch.setenv("NASOA_KERNELS", "cuda")
    with pytest.raises(KernelConfigError, match="not one of auto, torch, triton"):
        select_backend(x)


def test_importing_nasoa_never_imports_triton():
    code = textwrap.dedent(
        """
        import sys, torch
        import nasoa, nasoa.core.net, nasoa.kernels
        assert "triton" not in sys.modules, "import"
        net = nasoa.core.net.ETNasNet("031-_8_1-2", num_classes=3, input_size=8)
        net(torch.randn(2, 3, 8, 8)).sum().backward()
        assert "triton" not in sys.modules, "run torch"
        import os
        os.environ["NASOA_KERNELS"] = "auto"  # CPU tensors: auto picks torch without importing triton
        net(torch.randn(2, 3, 8, 8)).sum().backward()
        assert "triton" not in sys.modules, "run auto"
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET",)}
    env["NASOA_KERNELS"] = "torch"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------------------------------------
# A small ET-NAS network: torch path and (interpreted) Triton path agree
# ---------------------------------------------------------------------------------------------


@needs_kernels
def test_etnas_net_same_outputs_and_grads(monkeypatch):
    from nasoa.kernels import bn_act_triton
    from nasoa.core.net import ETNasNet

    monkeypatch.setattr(bn_act_triton, "POISON_OUTPUTS", True)
    torch.manual_seed(0)
    # 3 stages; per block: add + concat skips, a projected add, and the fused BN + add + ReLU site.
    net = ETNasNet("23311-a02c12_16_1-2-2", num_classes=5, input_size=16)
    x = torch.randn(2, 3, 8, 8)
    results = {}
    for backend in ("torch", "triton"):
        monkeypatch.setenv("NASOA_KERNELS", backend)
        m = copy.deepcopy(net).train()
        out = m(x)
        out.square().sum().backward()
        m.eval()
        m.stem.requires_grad_(False)  # frozen stem: eval-mode BN that still back-propagates
        out_eval = m(x)
        out_eval.sum().backward()
        results[backend] = (out, out_eval, m)
    (ta, tea, tm), (ka, kea, km) = results["torch"], results["triton"]
    torch.testing.assert_close(ka, ta, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(kea, tea, rtol=1e-4, atol=1e-4)
    for (name, pa), (_, pb) in zip(tm.named_parameters(), km.named_parameters()):
        if pa.grad is None:
            assert pb.grad is None, name
            continue
        torch.testing.assert_close(pb.grad, pa.grad, rtol=1e-3, atol=1e-4, msg=lambda m: f"{name}: {m}")
    for (name, ba), (_, bb) in zip(tm.named_buffers(), km.named_buffers()):
        torch.testing.assert_close(bb, ba, rtol=1e-5, atol=1e-5, msg=lambda m: f"{name}: {m}")


# ---------------------------------------------------------------------------------------------
# GPU (compiled, autotuned) kernels: only where CUDA exists, in a fresh process without the interpreter
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_kernels_autotuned_match_torch():
    code = textwrap.dedent(
        """
        import torch, torch.nn.functional as F
        from nasoa.kernels.bn_act_triton import bn_act_triton
        for shape, cl, dtype in [((8, 64, 28, 28), False, torch.float32), ((8, 64, 28, 28), True, torch.float16),
                                 ((64, 512, 7, 7), True, torch.bfloat16), ((5, 7, 3, 3), False, torch.float32)]:
            x = torch.randn(shape, device="cuda", dtype=dtype)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            C = shape[1]
            w = torch.randn(C, device="cuda"); b = torch.randn(C, device="cuda")
            rm, rv = torch.zeros(C, device="cuda"), torch.ones(C, device="cuda")
            rm2, rv2 = rm.clone(), rv.clone()
            res = torch.randn_like(x)
            y = bn_act_triton(x, w, b, rm, rv, res, True, 0.1, 1e-5, True)  # first call autotunes
            ref = F.relu(F.batch_norm(x.float(), rm2, rv2, w, b, True, 0.1, 1e-5) + res.float())
            tol = 1e-4 if dtype == torch.float32 else 2e-2
            torch.testing.assert_close(y.float(), ref, rtol=tol, atol=tol)
            # autotuning ran the finalize kernel many times: running stats must show one update
            torch.testing.assert_close(rm, rm2, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(rv, rv2, rtol=1e-4, atol=1e-5)
        print("ok")
        """
    )
    env = dict(os.environ, TRITON_INTERPRET="0")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-4000:]


# ---------------------------------------------------------------------------------------------
# Larger sweep (slow): random shapes, layouts, flags and dtypes
# ---------------------------------------------------------------------------------------------


def _sweep_cases(n: int = 24, seed: int = 7):
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        N = rng.choice([1, 2, 3, 5, 8])
        H = rng.choice([1, 2, 7, 14, 17])
        W = rng.choice([1, 3, 7, 14])
        training = rng.random() < 0.7
        if training and N * H * W == 1:
            N = 2
        shape = (N, rng.choice([1, 3, 31, 64, 97, 130]), H, W)
        case = Case(shape, channels_last=rng.random() < 0.5, residual=rng.random() < 0.6,
                    relu=rng.random() < 0.8, training=training, running=rng.random() < 0.8,
                    affine=rng.random() < 0.9, frozen_params=not training and rng.random() < 0.5)
        out.append((case, rng.choice([torch.float32, torch.float32, torch.float16, torch.bfloat16])))
    return out


@pytest.mark.slow
@needs_kernels
@pytest.mark.parametrize("case,dtype", _sweep_cases(), ids=lambda v: str(v))
def test_kernels_sweep(K, case, dtype):
    args = _inputs(case, dtype, seed=zlib.crc32(str(case).encode()))
    got = _run(K.bn_act_triton, case, *args)
    want = _run(_torch_bn, case, *args, compute_dtype=None if dtype == torch.float32 else torch.float32)
    _compare(got, want, dtype)


# ---------------------------------------------------------------------------------------------
# The compiled (non-interpreted) kernels type-check and compile for a GPU, without a GPU
# ---------------------------------------------------------------------------------------------

_COMPILE_SCRIPT = textwrap.dedent(
    """
    import sys
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from nasoa.kernels import bn_act_triton as K

    FULL = sys.argv[1] == "full"
    F32 = "*fp32"

    def compile_one(kernel, types, consts, num_warps):
        fn = kernel.fn
        sig = {n: ("constexpr" if n in consts else types.get(n, "i32")) for n in fn.arg_names}
        src = ASTSource(fn, sig, constexprs={(fn.arg_names.index(k),): v for k, v in consts.items()})
        triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": num_warps})

    dtypes = ["*fp32", "*fp16", "*bf16"] if FULL else ["*bf16"]
    tiles = K._TILE_CONFIGS if FULL else K._TILE_CONFIGS[:1]
    for xt in dtypes:
        for bm, bc, w in tiles:
            tile = {"BLOCK_M": bm, "BLOCK_C": bc}
            compile_one(K._stats_partial_kernel, {"x_ptr": xt, "pmean_ptr": F32, "pm2_ptr": F32}, tile, w)
            io = {"x_ptr": xt, "res_ptr": xt, "y_ptr": xt, "mask_ptr": "*u8", "mean_ptr": F32, "invstd_ptr": F32,
                  "w_ptr": F32, "b_ptr": F32}
            compile_one(K._apply_kernel, io, {"HAS_RES": True, "RELU": True, "WRITE_MASK": True, **tile}, w)
            bio = {"dy_ptr": xt, "mask_ptr": "*u8", "x_ptr": xt, "dx_ptr": xt, "dres_ptr": xt, "mean_ptr": F32,
                   "invstd_ptr": F32, "w_ptr": F32, "sdz_ptr": F32, "sdzx_ptr": F32, "pdz_ptr": F32, "pdzx_ptr": F32}
            compile_one(K._bwd_reduce_kernel, bio, {"RELU": True, **tile}, w)
            for train in (True, False):
                flags = {"TRAIN": train, "RELU": True, "WRITE_DX": True, "WRITE_DRES": True}
                compile_one(K._bwd_elementwise_kernel, bio, {**flags, **tile}, w)
    for bp, bc, w in K._FINALIZE_CONFIGS if FULL else K._FINALIZE_CONFIGS[:1]:
        fin = {"BLOCK_P": bp, "BLOCK_C": bc}
        stats = {n: F32 for n in ("pmean_ptr", "pm2_ptr", "mean_ptr", "invstd_ptr")}
        stats.update(running_mean_ptr="*fp16", running_var_ptr="*fp16", eps="fp32", momentum="fp32")
        compile_one(K._stats_finalize_kernel, stats, {"HAS_RUNNING": True, **fin}, w)
        compile_one(K._sum_finalize_kernel, {n: F32 for n in ("pdz_ptr", "pdzx_ptr", "sdz_ptr", "sdzx_ptr")}, fin, w)
    print("compiled")
    """
)


def _compile_for_sm90(which: str) -> None:
    pytest.importorskip("triton.backends.nvidia")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, "-c", _COMPILE_SCRIPT, which], env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0 and "compiled" in proc.stdout, proc.stderr[-4000:]


def test_kernels_compile_for_sm90_without_a_gpu():
    """One config per kernel, bf16, compiled to PTX/cubin for an H100 target: catches GPU-only type errors."""
    _compile_for_sm90("one")


@pytest.mark.slow
def test_kernels_compile_for_sm90_every_config():
    _compile_for_sm90("full")


# ---------------------------------------------------------------------------------------------
# nasoa bench kernels (CPU smoke run)
# ---------------------------------------------------------------------------------------------


def test_bench_kernels_cli_writes_json_and_markdown(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from nasoa.bench import kernels as kb
    from nasoa.cli.main import app

    monkeypatch.setattr(kb, "QUICK_SHAPES", kb.QUICK_SHAPES[:1])
    out = tmp_path / "bench"
    r = CliRunner().invoke(app, ["bench", "kernels", "--quick", "--device", "cpu", "--repeats", "3", "--warmup", "1",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    result = json.loads((out / "kernels.json").read_text())
    assert result["gpu_measured"] is False and result["provenance"]["date"] and result["copy_bandwidth"]["gbps"] > 0
    rows = {(row["variant"], row["pass"]): row for row in result["rows"]}
    assert rows[("eager", "fwd+bwd")]["status"] == "ok" and rows[("eager", "fwd+bwd")]["gbps"] > 0
    assert rows[("nasoa-triton", "fwd")]["status"].startswith("needs a GPU")
    assert rows[("compile", "fwd")]["status"].startswith("skipped")
    md = (out / "kernels.md").read_text()
    assert "GPU speed: unmeasured" in md and "| ms (median) |" in md


def test_bench_kernels_cli_rejects_bad_input():
    from typer.testing import CliRunner

    from nasoa.cli.main import app

    r = CliRunner().invoke(app, ["bench", "kernels", "--dtype", "int8"])
    assert r.exit_code == 2 and "--dtype 'int8'" in r.output

