"""Batches of an in-memory split, ready for the model: normalised, lightly augmented in one gather
per batch, each epoch determined by ``(seed, epoch)`` so a run can resume mid-epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from nasoa.core.data.task import DataError


def _mix_seed(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + 0x5EED) % (2**63 - 1)


class Batches:
    """Batches of one in-memory split, ready for the model.

    Yields ``(x, y)`` with ``x`` float32 N x channels x H x W normalised by ``mean``/``std`` (per
    channel, applied after grey is expanded to 3 channels) and ``y`` int64. Light augmentation
    (random crop with ``pad_fraction`` reflect padding, horizontal flip unless ``hflip=False``) is
    one vectorised gather per batch. Epoch ``e`` is fully determined by ``(seed, e)``:
    ``epoch(e)`` replays it; iterating the object runs epochs 0, 1, 2, ... in turn.
    """

    def __init__(self, x_uint8: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True,
                 augment: bool = False, seed: int = 0, mean: Sequence[float] = (0.485, 0.456, 0.406),
                 std: Sequence[float] = (0.229, 0.224, 0.225), channels: int = 3, drop_last: bool = False, *,
                 hflip: bool = True, channels_last: bool = False, pad_fraction: float = 0.125,
                 device: str | torch.device | None = None) -> None:
        x = torch.as_tensor(x_uint8)
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3):
            raise DataError(f"Batches needs uint8 N x C x H x W images with C in (1, 3), got {x.dtype} "
                            f"{tuple(x.shape)}; pass TaskData.x_train / x_val")
        if channels not in (1, 3):
            raise DataError(f"channels={channels}; use 1 or 3")
        if batch_size < 1:
            raise DataError(f"batch_size={batch_size}; use at least 1")
        y = torch.as_tensor(y).long()
        if len(y) != len(x):
            raise DataError(f"Batches got {len(x)} images and {len(y)} labels; pass matching tensors")
        dev = torch.device(device) if device is not None else x.device
        self.x, self.y = x.to(dev), y.to(dev)
        self.batch_size, self.shuffle, self.augment, self.seed = int(batch_size), shuffle, augment, int(seed)
        self.channels, self.drop_last, self.hflip, self.channels_last = channels, drop_last, hflip, channels_last
        self.pad = max(0, min(round(x.shape[2] * pad_fraction), x.shape[2] - 1, x.shape[3] - 1))
        self.device = dev
        scale, shift = [], []
        for c in range(channels):
            m, s = mean[c % len(mean)], std[c % len(std)]
            scale.append(1.0 / (255.0 * s))
            shift.append(-m / s)
        self._scale = torch.tensor(scale, device=dev).view(1, channels, 1, 1)
        self._shift = torch.tensor(shift, device=dev).view(1, channels, 1, 1)
        self._grey_weights = torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 3, 1, 1)
        self._next_epoch = 0

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self._next_epoch
        self._next_epoch += 1
        return self.epoch(epoch)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of epoch ``epoch``, from batch ``start`` on (for resuming mid-epoch)."""
        g = torch.Generator().manual_seed(_mix_seed(self.seed, epoch))
        n = len(self.y)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        # Augmentation draws come from the same generator, all at once, so skipping batches is free.
        crop = flips = None
        if self.augment and n:
            crop = torch.randint(0, 2 * self.pad + 1, (n, 2), generator=g) - self.pad
            flips = torch.rand(n, generator=g) < 0.5 if self.hflip else None
        order = order.to(self.device)
        for b in range(start, len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            xb = self.x[idx]
            if crop is not None:
                sl = slice(b * self.batch_size, b * self.batch_size + len(idx))
                xb = self._augment(xb, crop[sl].to(self.device), None if flips is None else flips[sl].to(self.device))
            yield self._normalise(xb), self.y[idx]

    def _augment(self, xb: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor | None) -> torch.Tensor:
        """Random crop of the reflect-padded image plus optional flip, as one index gather."""
        b, c, h, w = xb.shape
        rows = torch.arange(h, device=xb.device).view(1, h) + offsets[:, :1]
        cols = torch.arange(w, device=xb.device).view(1, w) + offsets[:, 1:]
        rows = rows.abs()
        rows = torch.where(rows > h - 1, 2 * (h - 1) - rows, rows)
        cols = cols.abs()
        cols = torch.where(cols > w - 1, 2 * (w - 1) - cols, cols)
        if flips is not None:
            cols = torch.where(flips.view(b, 1), w - 1 - cols, cols)
        flat = (rows.view(b, h, 1) * w + cols.view(b, 1, w)).view(b, 1, h * w).expand(b, c, h * w)
        return xb.reshape(b, c, h * w).gather(2, flat).view(b, c, h, w)

    def _normalise(self, xb: torch.Tensor) -> torch.Tensor:
        xf = xb.float()
        if xf.shape[1] == 3 and self.channels == 1:
            xf = (xf * self._grey_weights).sum(1, keepdim=True)
        if self.channels_last:  # write straight into channels_last memory (faster than a later copy)
            b, _, h, w = xf.shape
            out = torch.empty((b, h, w, self.channels), device=xf.device).permute(0, 3, 1, 2)
            return torch.addcmul(self._shift, xf, self._scale, out=out)
        return torch.addcmul(self._shift, xf, self._scale)  # broadcasts grey 1 -> channels
