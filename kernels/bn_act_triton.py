"""Triton kernels for the fused BatchNorm2d (+ residual) (+ ReLU) of ET-NAS blocks, forward and backward.

Imported lazily by :mod:`nasoa.kernels.bn_act` only when the Triton path is selected, so importing
nasoa never imports triton. On CUDA tensors the kernels are autotuned; on CPU tensors (only under
``TRITON_INTERPRET=1``, which must be set before this module is imported) the raw JIT functions run
with one explicit config, because ``@triton.autotune`` cannot run in the interpreter.

Layout. Every kernel sees the input as a (N, C, HW) view addressed through strides
``(stride_n, stride_c, stride_hw)`` and iterates over tiles of ``rows x channels`` where a row
``m in [0, N*HW)`` is one (n, h, w) position. NCHW-contiguous and channels_last-contiguous inputs
are used as they are (Triton specialises the stride that equals 1, so the contiguous axis is known
at compile time); any other layout is copied to NCHW first, and a residual or incoming gradient
whose layout differs from the input's is copied into the input's layout (documented conversions,
see :func:`_as_layout_of`). All tensors a kernel touches therefore share one set of strides.

Training forward (3 launches):
  1. ``_stats_partial_kernel``: grid (P parts of the rows) x (channel blocks). Each program walks
     its part in BLOCK_M-row tiles and keeps a per-channel (mean, M2) merged tile by tile with
     Chan's parallel formula, in fp32. The reduction stays parallel however large N*H*W is: P grows
     with the rows, not one serial program per channel.
  2. ``_stats_finalize_kernel``: per channel, combines the P partials (closed-form Chan merge, two
     passes over the small partial buffer), writes mean and invstd (fp32, kept for backward) and
     updates the running statistics in place exactly as torch does: ``(1-m)*running + m*batch``
     with the unbiased variance ``M2/(M-1)``. Autotuned with ``restore_value`` on the running
     statistics so autotuning's repeated launches do not update them more than once.
  3. ``_apply_kernel``: ``y = x*scale + shift (+ residual)``, ReLU, and the packed ReLU mask.

Training backward (3 launches): ``_bwd_reduce_kernel`` (partial per-channel sums of dz and
dz*xhat, with ``dz = dy * mask`` and ``xhat = (x - mean) * invstd`` recomputed from the saved x),
``_sum_finalize_kernel`` (sums the partials: dbias and dweight), ``_bwd_elementwise_kernel``
(``dx = w*invstd*(dz - sum(dz)/M - xhat*sum(dz*xhat)/M)`` and ``dresidual = dz``).

Frozen / eval forward: the same ``_apply_kernel`` with mean = running_mean and
invstd = rsqrt(running_var + eps); backward: ``dx = dz * w * invstd``, ``dresidual = dz``, and the
reduction kernels only when weight or bias need a gradient.

ReLU mask. Backward needs ``relu'(z)`` where ``z = bn(x) + residual``; instead of saving z (the
pre-activation, ``x.element_size()`` bytes per element) forward writes one *bit* per element,
packed 8 rows of one channel per byte (bit k of byte j is row 8*j + k). ``xhat`` is recomputed
from x, mean and invstd: x is saved by every BatchNorm implementation (torch's included) for the
weight gradient, so the recomputation costs no memory. See :func:`saved_bytes`.

Precision: every load is cast to fp32 right away and every store casts back (fp16/bf16 inputs;
bf16 arithmetic is also wrong in the interpreter). Statistics and gradient sums are fp32, so a
float64 input is computed in fp32 too (use ``NASOA_KERNELS=torch`` for true float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import triton
import triton.language as tl

__all__ = [
    "MASK_BITS_PER_ELEMENT",
    "BnActTrainFunction",
    "BnActFrozenFunction",
    "bn_act_triton",
    "mask_bytes",
    "saved_bytes",
]

#: Bits of saved state per activation element that the ReLU backward needs (a packed bitmask).
MASK_BITS_PER_ELEMENT = 1

#: Test-only: when True every buffer the kernels write is allocated filled with NaN (float) or 0xA5
#: (uint8 masks), so an element a kernel forgets to write fails the comparison.
POISON_OUTPUTS = False

# GPU autotuning: (BLOCK_M, BLOCK_C, num_warps). NCHW favours tall tiles (rows are contiguous),
# channels_last wide ones (channels are contiguous); autotune picks per (M, C, layout).
_TILE_CONFIGS = [(512, 8, 4), (256, 16, 4), (128, 32, 4), (64, 64, 4), (32, 128, 4), (256, 32, 8), (128, 64, 8)]
_FINALIZE_CONFIGS = [(32, 32, 2), (64, 32, 4), (32, 128, 4), (16, 256, 4)]  # (BLOCK_P, BLOCK_C, num_warps)
_ROW_GRANULE = 256  # rows of one reduction part are a multiple of this (and of 8 for the mask bytes)

# The one config used in the interpreter: big enough to keep programs few, small enough that the
# test shapes still cover several tiles per part and several parts per channel.
_CPU_TILE = {"BLOCK_M": 64, "BLOCK_C": 64}
_CPU_FINALIZE = {"BLOCK_P": 64, "BLOCK_C": 64}
_CPU_TILES_PER_PART = 2


def _tile_configs():
    return [triton.Config({"BLOCK_M": m, "BLOCK_C": c}, num_warps=w) for m, c, w in _TILE_CONFIGS]


def _finalize_configs():
    return [triton.Config({"BLOCK_P": p, "BLOCK_C": c}, num_warps=w) for p, c, w in _FINALIZE_CONFIGS]


_TILE_KEY = ["M", "C", "stride_c"]


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------


@triton.autotune(configs=_tile_configs(), key=_TILE_KEY)
@triton.jit
def _stats_partial_kernel(
    x_ptr, pmean_ptr, pm2_ptr,
    M, C, HW, stride_n, stride_c, stride_hw, rows_per_part,
    BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr,
):
    """Per (part, channel block): mean and M2 of the part's rows, merged tile by tile (Chan)."""
    pid_p = tl.program_id(0)
    pid_c = tl.program_id(1)
    cols = pid_c * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cols < C
    row0 = pid_p * rows_per_part
    row_end = tl.minimum(row0 + rows_per_part, M)
    n_a = 0.0
    mean_a = tl.zeros([BLOCK_C], dtype=tl.float32)
    m2_a = tl.zeros([BLOCK_C], dtype=tl.float32)
    for start in range(row0, row_end, BLOCK_M):
        rows = start + tl.arange(0, BLOCK_M)
        rmask = rows < row_end
        n_idx = rows // HW
        hw_idx = rows - n_idx * HW
        offs = n_idx[:, None] * stride_n + hw_idx[:, None] * stride_hw + cols[None, :] * stride_c
        valid = rmask[:, None] & cmask[None, :]
        x = tl.load(x_ptr + offs, mask=valid, other=0.0).to(tl.float32)
        n_b = tl.minimum(row_end - start, BLOCK_M).to(tl.float32)
        mean_b = tl.sum(x, axis=0) / n_b
        d = tl.where(valid, x - mean_b[None, :], 0.0)
        m2_b = tl.sum(d * d, axis=0)
        n = n_a + n_b
        delta = mean_b - mean_a
        mean_a = mean_a + delta * (n_b / n)
        m2_a = m2_a + m2_b + delta * delta * (n_a * n_b / n)
        n_a = n
    tl.store(pmean_ptr + pid_p * C + cols, mean_a, mask=cmask)
    tl.store(pm2_ptr + pid_p * C + cols, m2_a, mask=cmask)


@triton.autotune(configs=_finalize_configs(), key=["P", "C"], restore_value=["running_mean_ptr", "running_var_ptr"])
@triton.jit
def _stats_finalize_kernel(
    pmean_ptr, pm2_ptr, mean_ptr, invstd_ptr, running_mean_ptr, running_var_ptr,
    P, C, M, rows_per_part, eps, momentum,
    HAS_RUNNING: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr,
):
    """Per channel block: combine the P partials, write mean/invstd, update the running stats."""
    pid_c = tl.program_id(0)
    cols = pid_c * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cols < C
    m_f = M * 1.0
    total = tl.zeros([BLOCK_C], dtype=tl.float32)
    for p0 in range(0, P, BLOCK_P):
        parts = p0 + tl.arange(0, BLOCK_P)
        pmask = parts < P
        cnt = tl.minimum(rows_per_part, M - parts * rows_per_part).to(tl.float32)
        cnt = tl.where(pmask, cnt, 0.0)
        valid = pmask[:, None] & cmask[None, :]
        pm = tl.load(pmean_ptr + parts[:, None] * C + cols[None, :], mask=valid, other=0.0)
        total += tl.sum(pm * cnt[:, None], axis=0)
    mean = total / m_f
    m2 = tl.zeros([BLOCK_C], dtype=tl.float32)
    for p0 in range(0, P, BLOCK_P):
        parts = p0 + tl.arange(0, BLOCK_P)
        pmask = parts < P
        cnt = tl.minimum(rows_per_part, M - parts * rows_per_part).to(tl.float32)
        cnt = tl.where(pmask, cnt, 0.0)
        valid = pmask[:, None] & cmask[None, :]
        pm = tl.load(pmean_ptr + parts[:, None] * C + cols[None, :], mask=valid, other=0.0)
        pv = tl.load(pm2_ptr + parts[:, None] * C + cols[None, :], mask=valid, other=0.0)
        d = pm - mean[None, :]
        m2 += tl.sum(pv + cnt[:, None] * d * d, axis=0)
    var = m2 / m_f
    invstd = 1.0 / tl.sqrt(var + eps)
    tl.store(mean_ptr + cols, mean, mask=cmask)
    tl.store(invstd_ptr + cols, invstd, mask=cmask)
    if HAS_RUNNING:
        rm = tl.load(running_mean_ptr + cols, mask=cmask, other=0.0)
        rv = tl.load(running_var_ptr + cols, mask=cmask, other=0.0)
        unbiased = m2 / (m_f - 1.0)
        new_rm = rm.to(tl.float32) * (1.0 - momentum) + mean * momentum
        new_rv = rv.to(tl.float32) * (1.0 - momentum) + unbiased * momentum
        tl.store(running_mean_ptr + cols, new_rm.to(running_mean_ptr.dtype.element_ty), mask=cmask)
        tl.store(running_var_ptr + cols, new_rv.to(running_var_ptr.dtype.element_ty), mask=cmask)


@triton.jit
def _tile3d(m0, c0, M, C, HW, stride_n, stride_c, stride_hw, BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    """Offsets and validity of a [BLOCK_M/8, 8, BLOCK_C] tile: row = m0 + 8*i + k, channel c."""
    i = tl.arange(0, BLOCK_M // 8)
    k = tl.arange(0, 8)
    rows = m0 + i[:, None, None] * 8 + k[None, :, None]
    cols = c0 + tl.arange(0, BLOCK_C)[None, None, :]
    n_idx = rows // HW
    hw_idx = rows - n_idx * HW
    offs = n_idx * stride_n + hw_idx * stride_hw + cols * stride_c
    valid = (rows < M) & (cols < C)
    return offs, valid


@triton.jit
def _mask_tile(m0, c0, M8, C, mask_stride_m, mask_stride_c, BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    """Offsets and validity of the [BLOCK_M/8, BLOCK_C] bytes of the packed ReLU mask of a tile."""
    brows = m0 // 8 + tl.arange(0, BLOCK_M // 8)[:, None]
    bcols = c0 + tl.arange(0, BLOCK_C)[None, :]
    return brows * mask_stride_m + bcols * mask_stride_c, (brows < M8) & (bcols < C)


@triton.jit
def _load_relu_mask(mask_ptr, m0, c0, M8, C, mask_stride_m, mask_stride_c,
                    BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    """The ReLU mask of a tile as a [BLOCK_M/8, 8, BLOCK_C] float tile of 0/1."""
    boffs, bvalid = _mask_tile(m0, c0, M8, C, mask_stride_m, mask_stride_c, BLOCK_M, BLOCK_C)
    packed = tl.load(mask_ptr + boffs, mask=bvalid, other=0).to(tl.int32)
    k = tl.arange(0, 8)[None, :, None]
    return ((packed[:, None, :] >> k) & 1).to(tl.float32)


@triton.autotune(configs=_tile_configs(), key=_TILE_KEY)
@triton.jit
def _apply_kernel(
    x_ptr, res_ptr, y_ptr, mask_ptr, mean_ptr, invstd_ptr, w_ptr, b_ptr,
    M, M8, C, HW, stride_n, stride_c, stride_hw, mask_stride_m, mask_stride_c,
    HAS_RES: tl.constexpr, RELU: tl.constexpr, WRITE_MASK: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr,
):
    """y = relu(x * scale + shift (+ residual)) with scale = w*invstd, shift = b - mean*scale."""
    m0 = tl.program_id(0) * BLOCK_M
    c0 = tl.program_id(1) * BLOCK_C
    cvec = c0 + tl.arange(0, BLOCK_C)
    cmask = cvec < C
    mean = tl.load(mean_ptr + cvec, mask=cmask, other=0.0).to(tl.float32)
    invstd = tl.load(invstd_ptr + cvec, mask=cmask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + cvec, mask=cmask, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + cvec, mask=cmask, other=0.0).to(tl.float32)
    scale = w * invstd
    shift = b - mean * scale
    offs, valid = _tile3d(m0, c0, M, C, HW, stride_n, stride_c, stride_hw, BLOCK_M, BLOCK_C)
    x = tl.load(x_ptr + offs, mask=valid, other=0.0).to(tl.float32)
    z = x * scale[None, None, :] + shift[None, None, :]
    if HAS_RES:
        z += tl.load(res_ptr + offs, mask=valid, other=0.0).to(tl.float32)
    if RELU:
        pos = z > 0.0
        z = tl.where(pos, z, 0.0)
        if WRITE_MASK:
            k = tl.arange(0, 8)[None, :, None]
            bits = tl.where(pos & valid, 1, 0).to(tl.int32) << k
            packed = tl.sum(bits, axis=1)
            boffs, bvalid = _mask_tile(m0, c0, M8, C, mask_stride_m, mask_stride_c, BLOCK_M, BLOCK_C)
            tl.store(mask_ptr + boffs, packed.to(tl.uint8), mask=bvalid)
    tl.store(y_ptr + offs, z.to(y_ptr.dtype.element_ty), mask=valid)


@triton.autotune(configs=_tile_configs(), key=_TILE_KEY)
@triton.jit
def _bwd_reduce_kernel(
    dy_ptr, mask_ptr, x_ptr, mean_ptr, invstd_ptr, pdz_ptr, pdzx_ptr,
    M, M8, C, HW, stride_n, stride_c, stride_hw, mask_stride_m, mask_stride_c, rows_per_part,
    RELU: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr,
):
    """Per (part, channel block): sum(dz) and sum(dz * xhat) over the part's rows."""
    pid_p = tl.program_id(0)
    c0 = tl.program_id(1) * BLOCK_C
    cvec = c0 + tl.arange(0, BLOCK_C)
    cmask = cvec < C
    mean = tl.load(mean_ptr + cvec, mask=cmask, other=0.0).to(tl.float32)
    invstd = tl.load(invstd_ptr + cvec, mask=cmask, other=0.0).to(tl.float32)
    row0 = pid_p * rows_per_part
    row_end = tl.minimum(row0 + rows_per_part, M)
    acc_dz = tl.zeros([BLOCK_C], dtype=tl.float32)
    acc_dzx = tl.zeros([BLOCK_C], dtype=tl.float32)
    for start in range(row0, row_end, BLOCK_M):
        offs, valid = _tile3d(start, c0, row_end, C, HW, stride_n, stride_c, stride_hw, BLOCK_M, BLOCK_C)
        dz = tl.load(dy_ptr + offs, mask=valid, other=0.0).to(tl.float32)
        if RELU:
            dz = dz * _load_relu_mask(mask_ptr, start, c0, M8, C, mask_stride_m, mask_stride_c, BLOCK_M, BLOCK_C)
        x = tl.load(x_ptr + offs, mask=valid, other=0.0).to(tl.float32)
        xhat = tl.where(valid, (x - mean[None, None, :]) * invstd[None, None, :], 0.0)
        acc_dz += tl.sum(tl.sum(dz, axis=1), axis=0)
        acc_dzx += tl.sum(tl.sum(dz * xhat, axis=1), axis=0)
    tl.store(pdz_ptr + pid_p * C + cvec, acc_dz, mask=cmask)
    tl.store(pdzx_ptr + pid_p * C + cvec, acc_dzx, mask=cmask)


@triton.autotune(configs=_finalize_configs(), key=["P", "C"])
@triton.jit
def _sum_finalize_kernel(pdz_ptr, pdzx_ptr, sdz_ptr, sdzx_ptr, P, C, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
    """Per channel: sum the P partial sums (sum(dz) = dbias, sum(dz*xhat) = dweight)."""
    cols = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cols < C
    a = tl.zeros([BLOCK_C], dtype=tl.float32)
    b = tl.zeros([BLOCK_C], dtype=tl.float32)
    for p0 in range(0, P, BLOCK_P):
        parts = p0 + tl.arange(0, BLOCK_P)
        valid = (parts[:, None] < P) & cmask[None, :]
        offs = parts[:, None] * C + cols[None, :]
        a += tl.sum(tl.load(pdz_ptr + offs, mask=valid, other=0.0), axis=0)
        b += tl.sum(tl.load(pdzx_ptr + offs, mask=valid, other=0.0), axis=0)
    tl.store(sdz_ptr + cols, a, mask=cmask)
    tl.store(sdzx_ptr + cols, b, mask=cmask)


@triton.autotune(configs=_tile_configs(), key=_TILE_KEY)
@triton.jit
def _bwd_elementwise_kernel(
    dy_ptr, mask_ptr, x_ptr, dx_ptr, dres_ptr, mean_ptr, invstd_ptr, w_ptr, sdz_ptr, sdzx_ptr,
    M, M8, C, HW, stride_n, stride_c, stride_hw, mask_stride_m, mask_stride_c,
    TRAIN: tl.constexpr, RELU: tl.constexpr, WRITE_DX: tl.constexpr, WRITE_DRES: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr,
):
    """dx (batch statistics: through mean and var too; frozen: dz * scale) and dresidual = dz."""
    m0 = tl.program_id(0) * BLOCK_M
    c0 = tl.program_id(1) * BLOCK_C
    cvec = c0 + tl.arange(0, BLOCK_C)
    cmask = cvec < C
    offs, valid = _tile3d(m0, c0, M, C, HW, stride_n, stride_c, stride_hw, BLOCK_M, BLOCK_C)
    dz = tl.load(dy_ptr + offs, mask=valid, other=0.0).to(tl.float32)
    if RELU:
        dz = dz * _load_relu_mask(mask_ptr, m0, c0, M8, C, mask_stride_m, mask_stride_c, BLOCK_M, BLOCK_C)
    if WRITE_DRES:
        tl.store(dres_ptr + offs, dz.to(dres_ptr.dtype.element_ty), mask=valid)
    if WRITE_DX:
        invstd = tl.load(invstd_ptr + cvec, mask=cmask, other=0.0).to(tl.float32)
        w = tl.load(w_ptr + cvec, mask=cmask, other=0.0).to(tl.float32)
        scale = (w * invstd)[None, None, :]
        if TRAIN:
            mean = tl.load(mean_ptr + cvec, mask=cmask, other=0.0).to(tl.float32)
            m_f = M * 1.0
            mean_dz = (tl.load(sdz_ptr + cvec, mask=cmask, other=0.0) / m_f)[None, None, :]
            mean_dzx = (tl.load(sdzx_ptr + cvec, mask=cmask, other=0.0) / m_f)[None, None, :]
            x = tl.load(x_ptr + offs, mask=valid, other=0.0).to(tl.float32)
            xhat = (x - mean[None, None, :]) * invstd[None, None, :]
            dx = scale * (dz - mean_dz - xhat * mean_dzx)
        else:
            dx = dz * scale
        tl.store(dx_ptr + offs, dx.to(dx_ptr.dtype.element_ty), mask=valid)


# ---------------------------------------------------------------------------------------------
# Host side: geometry, allocation, launches
# ---------------------------------------------------------------------------------------------


def _empty(shape, dtype, device) -> torch.Tensor:
    if POISON_OUTPUTS:
        return torch.full(shape, float("nan") if dtype.is_floating_point else 0xA5, dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


def _empty_like(t: torch.Tensor, dtype=None) -> torch.Tensor:
    out = torch.empty_like(t, dtype=dtype)  # preserve_format: same strides as the dense tensor t
    if POISON_OUTPUTS:
        out.fill_(float("nan") if out.dtype.is_floating_point else 0xA5)
    return out


def _dense_layout(x: torch.Tensor) -> torch.Tensor:
    """x itself when NCHW- or channels_last-contiguous, else an NCHW-contiguous copy."""
    if x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last):
        return x
    return x.contiguous()


def _same_layout(a: torch.Tensor, b: torch.Tensor) -> bool:
    return all(sa == sb or n == 1 for sa, sb, n in zip(a.stride(), b.stride(), a.shape))


def _as_layout_of(t: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """t in ref's memory layout (a copy only when the strides differ), so one set of strides serves both."""
    if _same_layout(t, ref):
        return t
    out = torch.empty_like(ref, dtype=t.dtype)
    out.copy_(t)
    return out


@dataclass(frozen=True)
class _Geometry:
    """The (rows = N*H*W) x (channels) view every kernel iterates over, and the reduction split."""

    N: int
    C: int
    HW: int
    M: int
    stride_n: int
    stride_c: int
    stride_hw: int
    rows_per_part: int
    P: int
    M8: int
    cuda: bool

    @staticmethod
    def of(x: torch.Tensor) -> "_Geometry":
        N, C, H, W = x.shape
        sn, sc, sh, sw = x.stride()
        if H > 1 and W > 1 and sh != W * sw:
            raise ValueError("H and W must be mergeable into one axis; pass an NCHW or channels_last tensor")
        s_hw = sw if W > 1 else (sh if H > 1 else 1)
        M = N * H * W
        if x.numel() >= 2**31:
            raise ValueError(f"tensors of {x.numel()} elements exceed the kernels' int32 offsets; split the batch")
        cuda = x.is_cuda
        if cuda:
            sms = torch.cuda.get_device_properties(x.device).multi_processor_count
            c_blocks = max(1, math.ceil(C / 32))
            parts = max(1, min(math.ceil(4 * sms / c_blocks), math.ceil(M / _ROW_GRANULE)))
            rows_per_part = math.ceil(math.ceil(M / parts) / _ROW_GRANULE) * _ROW_GRANULE
        else:
            tile = _CPU_TILE["BLOCK_M"]
            rows_per_part = tile * _CPU_TILES_PER_PART
        P = math.ceil(M / rows_per_part)
        return _Geometry(N, C, H * W, M, sn, sc, s_hw, rows_per_part, P, math.ceil(M / 8), cuda)

    def mask_strides(self) -> tuple[int, int]:
        """Strides (row byte, channel) of the (M8, C) mask: rows-fastest for NCHW, channels for NHWC."""
        return (1, self.M8) if self.stride_hw == 1 and self.stride_c != 1 else (self.C, 1)

    def new_mask(self, device) -> torch.Tensor:
        sm, sc = self.mask_strides()
        if sm == 1:
            return _empty((self.C, self.M8), torch.uint8, device).t()
        return _empty((self.M8, self.C), torch.uint8, device)


def _launch_tiles(kernel, geo: _Geometry, args: tuple, **constexprs) -> None:
    """An elementwise kernel over (row tiles) x (channel blocks)."""
    if geo.cuda:
        grid = lambda meta: (triton.cdiv(geo.M, meta["BLOCK_M"]), triton.cdiv(geo.C, meta["BLOCK_C"]))  # noqa: E731
        kernel[grid](*args, **constexprs)
    else:
        grid = (triton.cdiv(geo.M, _CPU_TILE["BLOCK_M"]), triton.cdiv(geo.C, _CPU_TILE["BLOCK_C"]))
        kernel.fn[grid](*args, **constexprs, **_CPU_TILE)


def _launch_parts(kernel, geo: _Geometry, args: tuple, **constexprs) -> None:
    """A partial-reduction kernel over (row parts) x (channel blocks)."""
    if geo.cuda:
        grid = lambda meta: (geo.P, triton.cdiv(geo.C, meta["BLOCK_C"]))  # noqa: E731
        kernel[grid](*args, **constexprs)
    else:
        kernel.fn[(geo.P, triton.cdiv(geo.C, _CPU_TILE["BLOCK_C"]))](*args, **constexprs, **_CPU_TILE)


def _launch_channels(kernel, geo: _Geometry, args: tuple, **constexprs) -> None:
    """A finalize kernel over channel blocks."""
    if geo.cuda:
        kernel[lambda meta: (triton.cdiv(geo.C, meta["BLOCK_C"]),)](*args, **constexprs)
    else:
        kernel.fn[(triton.cdiv(geo.C, _CPU_FINALIZE["BLOCK_C"]),)](*args, **constexprs, **_CPU_FINALIZE)


def _batch_stats(x, geo, running_mean, running_var, momentum, eps):
    """Per-channel batch mean and invstd (fp32), updating the running statistics in place."""
    dev = x.device
    pmean = _empty((geo.P, geo.C), torch.float32, dev)
    pm2 = _empty((geo.P, geo.C), torch.float32, dev)
    _launch_parts(
        _stats_partial_kernel, geo,
        (x, pmean, pm2, geo.M, geo.C, geo.HW, geo.stride_n, geo.stride_c, geo.stride_hw, geo.rows_per_part),
    )
    mean = _empty((geo.C,), torch.float32, dev)
    invstd = _empty((geo.C,), torch.float32, dev)
    has_running = running_mean is not None
    _launch_channels(
        _stats_finalize_kernel, geo,
        (pmean, pm2, mean, invstd, running_mean if has_running else mean, running_var if has_running else invstd,
         geo.P, geo.C, geo.M, geo.rows_per_part, float(eps), float(momentum)),
        HAS_RUNNING=has_running,
    )
    return mean, invstd


def _apply(x, residual, geo, mean, invstd, w, b, relu, write_mask):
    y = _empty_like(x)
    mask = geo.new_mask(x.device) if relu and write_mask else None
    sm, sc = geo.mask_strides()
    _launch_tiles(
        _apply_kernel, geo,
        (x, residual if residual is not None else x, y, mask if mask is not None else y, mean, invstd, w, b,
         geo.M, geo.M8, geo.C, geo.HW, geo.stride_n, geo.stride_c, geo.stride_hw, sm, sc),
        HAS_RES=residual is not None, RELU=relu, WRITE_MASK=mask is not None,
    )
    return y, mask


def _grad_sums(dy, mask, x, geo, mean, invstd, relu):
    """sum(dz) and sum(dz * xhat) per channel (fp32): the bias and weight gradients."""
    dev = x.device
    pdz = _empty((geo.P, geo.C), torch.float32, dev)
    pdzx = _empty((geo.P, geo.C), torch.float32, dev)
    sm, sc = geo.mask_strides()
    _launch_parts(
        _bwd_reduce_kernel, geo,
        (dy, mask if mask is not None else dy, x, mean, invstd, pdz, pdzx,
         geo.M, geo.M8, geo.C, geo.HW, geo.stride_n, geo.stride_c, geo.stride_hw, sm, sc, geo.rows_per_part),
        RELU=relu,
    )
    sdz = _empty((geo.C,), torch.float32, dev)
    sdzx = _empty((geo.C,), torch.float32, dev)
    _launch_channels(_sum_finalize_kernel, geo, (pdz, pdzx, sdz, sdzx, geo.P, geo.C))
    return sdz, sdzx


def _bwd_elementwise(dy, mask, x, geo, mean, invstd, w, sdz, sdzx, relu, train, need_dx, need_dres, res_dtype):
    dx = _empty_like(x) if need_dx else None
    dres = _empty_like(x, dtype=res_dtype) if need_dres else None
    if dx is None and dres is None:
        return None, None
    sm, sc = geo.mask_strides()
    dummy = dy
    _launch_tiles(
        _bwd_elementwise_kernel, geo,
        (dy, mask if mask is not None else dummy, x, dx if dx is not None else dummy,
         dres if dres is not None else dummy, mean, invstd, w,
         sdz if sdz is not None else mean, sdzx if sdzx is not None else mean,
         geo.M, geo.M8, geo.C, geo.HW, geo.stride_n, geo.stride_c, geo.stride_hw, sm, sc),
        TRAIN=train, RELU=relu, WRITE_DX=dx is not None, WRITE_DRES=dres is not None,
    )
    return dx, dres


def _weight_bias(weight, bias, C, device):
    w = weight.detach() if weight is not None else torch.ones(C, device=device)
    b = bias.detach() if bias is not None else torch.zeros(C, device=device)
    return w, b


# ---------------------------------------------------------------------------------------------
# autograd Functions
# ---------------------------------------------------------------------------------------------


def _forward(ctx, x, geo, weight, bias, residual, mean, invstd, relu, need_grad):
    """The forward both autograd functions share once the statistics are known: normalise, add,
    ReLU, and keep what the backward needs (the packed ReLU mask, not the output)."""
    w, b = _weight_bias(weight, bias, geo.C, x.device)
    y, mask = _apply(x, residual, geo, mean, invstd, w, b, relu, write_mask=need_grad)
    if need_grad:
        ctx.save_for_backward(x, mask, mean, invstd, w)
    ctx.geo, ctx.relu = geo, relu
    ctx.res_dtype = residual.dtype if residual is not None else None
    ctx.has_weight, ctx.has_bias = weight is not None, bias is not None
    return y


class BnActTrainFunction(torch.autograd.Function):
    """relu(batch_norm(x) + residual) with batch statistics; updates the running stats if given.

    Saved for backward: x, the packed ReLU mask (1 bit per element), mean and invstd (C floats
    each) and the weight. Not differentiable twice.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, residual, running_mean, running_var, momentum, eps, relu, need_grad):
        geo = _Geometry.of(x)
        mean, invstd = _batch_stats(x, geo, running_mean, running_var, momentum, eps)
        return _forward(ctx, x, geo, weight, bias, residual, mean, invstd, relu, need_grad)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy):
        x, mask, mean, invstd, w = ctx.saved_tensors
        geo, relu = ctx.geo, ctx.relu
        dy = _as_layout_of(dy, x)
        need_dx, need_dw, need_db, need_dres = ctx.needs_input_grad[:4]
        sdz = sdzx = None
        if need_dx or need_dw or need_db:
            sdz, sdzx = _grad_sums(dy, mask, x, geo, mean, invstd, relu)
        # Without a ReLU dz is dy itself: hand it to the residual without a copy.
        need_dres_kernel = bool(need_dres and relu)
        dx, dres = _bwd_elementwise(dy, mask, x, geo, mean, invstd, w, sdz, sdzx, relu, True,
                                    need_dx, need_dres_kernel, ctx.res_dtype)
        if need_dres and not relu:
            dres = dy
        dw = sdzx.to(w.dtype) if need_dw and ctx.has_weight else None
        db = sdz.to(w.dtype) if need_db and ctx.has_bias else None
        return dx, dw, db, dres, None, None, None, None, None, None


class BnActFrozenFunction(torch.autograd.Function):
    """relu(x * scale + shift (+ residual)) with running statistics (eval / frozen BatchNorm).

    ``mean`` and ``invstd`` are fp32 copies taken from the running statistics at call time. Weight
    and bias get gradients only when they require them (the reductions run only then).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, residual, mean, invstd, relu, need_grad):
        return _forward(ctx, x, _Geometry.of(x), weight, bias, residual, mean, invstd, relu, need_grad)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy):
        x, mask, mean, invstd, w = ctx.saved_tensors
        geo, relu = ctx.geo, ctx.relu
        dy = _as_layout_of(dy, x)
        need_dx, need_dw, need_db, need_dres = ctx.needs_input_grad[:4]
        dw = db = None
        if (need_dw and ctx.has_weight) or (need_db and ctx.has_bias):
            sdz, sdzx = _grad_sums(dy, mask, x, geo, mean, invstd, relu)
            dw = sdzx.to(w.dtype) if need_dw and ctx.has_weight else None
            db = sdz.to(w.dtype) if need_db and ctx.has_bias else None
        need_dres_kernel = bool(need_dres and relu)
        dx, dres = _bwd_elementwise(dy, mask, x, geo, mean, invstd, w, None, None, relu, False,
                                    need_dx, need_dres_kernel, ctx.res_dtype)
        if need_dres and not relu:
            dres = dy
        return dx, dw, db, dres, None, None, None, None


# ---------------------------------------------------------------------------------------------
# Entry point and memory accounting
# ---------------------------------------------------------------------------------------------


def bn_act_triton(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
                  running_mean: torch.Tensor | None, running_var: torch.Tensor | None,
                  residual: torch.Tensor | None = None, training: bool = True, momentum: float | None = 0.1,
                  eps: float = 1e-5, relu: bool = True) -> torch.Tensor:
    """``relu(batch_norm(x) + residual)``, each part optional, with the Triton kernels.

    Same signature and semantics as :func:`nasoa.kernels.reference.bn_act_reference` (which is
    ``F.batch_norm`` + add + relu): ``training`` means batch statistics (running statistics, when
    given, are updated in place with ``momentum``); otherwise the running statistics normalise.
    A residual of another dtype is cast to x's; one in another memory layout is copied to x's.
    """
    if x.dim() != 4:
        raise ValueError(f"expected a 4D (N, C, H, W) input, got {x.dim()}D")
    if not (x.is_floating_point() and x.dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64)):
        raise TypeError(f"unsupported dtype {x.dtype}; use float32, float16 or bfloat16 (float64 runs in fp32)")
    x = _dense_layout(x)
    if residual is not None:
        if residual.shape != x.shape:
            raise ValueError(f"residual shape {tuple(residual.shape)} differs from input shape {tuple(x.shape)}")
        if residual.dtype != x.dtype:
            residual = residual.to(x.dtype)
        if not _same_layout(residual, x):
            fmt = torch.channels_last if not x.is_contiguous() else torch.contiguous_format
            residual = residual.contiguous(memory_format=fmt)
            if not _same_layout(residual, x):
                residual = _as_layout_of(residual, x)
    tensors = [t for t in (x, weight, bias, residual) if t is not None]
    need_grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    C = x.shape[1]
    if training:
        size = x.numel() // C
        if size <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.size()}")
        return BnActTrainFunction.apply(
            x, weight, bias, residual, running_mean, running_var, 0.0 if momentum is None else momentum, eps,
            relu, need_grad,
        )
    if running_mean is None or running_var is None:
        raise ValueError("running_mean and running_var are required when training=False")
    mean = running_mean.detach().to(torch.float32, copy=True)
    invstd = torch.rsqrt(running_var.detach().to(torch.float32) + eps)
    return BnActFrozenFunction.apply(x, weight, bias, residual, mean, invstd, relu, need_grad)


def mask_bytes(shape: tuple[int, ...] | torch.Size) -> int:
    """Bytes of the packed ReLU mask saved for an (N, C, H, W) activation: C * ceil(N*H*W / 8)."""
    N, C, H, W = shape
    return C * math.ceil(N * H * W / 8)


def saved_bytes(shape: tuple[int, ...] | torch.Size, dtype: torch.dtype, relu: bool = True) -> dict[str, int]:
    """Bytes this path keeps for backward beyond x (which every BatchNorm saves), vs the alternatives.

    - ``fused_mask``: the packed mask (1 bit per element) plus mean and invstd (2 * C * 4 bytes).
    - ``pre_activation``: what a fused kernel saving z = bn(x) + residual for the ReLU backward
      would keep instead of the mask (``numel * element_size``), plus the same statistics.
    - ``unfused_relu_output``: what eager ``bn -> add -> relu`` keeps besides x and the statistics:
      relu's output (``numel * element_size``). It is often the next conv's saved input too, so it
      is shared memory there; the mask saving shows against a non-shared pre-activation.
    """
    N, C, H, W = shape
    numel = N * C * H * W
    elem = torch.empty((), dtype=dtype).element_size()
    stats = 2 * C * 4
    return {
        "fused_mask": (mask_bytes(shape) if relu else 0) + stats,
        "pre_activation": (numel * elem if relu else 0) + stats,
        "unfused_relu_output": (numel * elem if relu else 0) + stats,
        "bits_per_element_mask": MASK_BITS_PER_ELEMENT if relu else 0,
        "bits_per_element_pre_activation": 8 * elem if relu else 0,
    }
