"""Do steps slow down over a long run? The default strategy's member (etnas_z5, pretrained) trained
with the default regime's optimiser (SGD, momentum 0.9, weight decay 5e-4, lr 0.01) for STEPS steps
on a small task (shapes 308 of the held-out bench: 200 images, 4 steps an epoch), on one thread;
the median step time of each 250-step window, and the share of subnormal floats in the weights
and momentum buffers at the end. FLUSH=1 turns on torch.set_flush_denormal first.

    python steps.py STEPS FLUSH
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from nasoa.app.workflow import prepare_model_and_task

steps, flush = int(sys.argv[1]), sys.argv[2] == "1"
torch.set_num_threads(1)
if flush:
    print("flush_denormal:", torch.set_flush_denormal(True))
prep = prepare_model_and_task("builtin:shapes?classes=4,5,7,9,12,13,15,16,19,25&per_class=20&size=32&seed=308",
                              "etnas_z5", seed=0, pretrained=True)
model = prep.model
task = prep.task
mean = torch.tensor(prep.mean).view(1, -1, 1, 1)
std = torch.tensor(prep.std).view(1, -1, 1, 1)
x_all, y_all = (task.x_train.float() / 255 - mean) / std, task.y_train
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9, weight_decay=5e-4)
loss_fn = torch.nn.CrossEntropyLoss()
model.train()
n = x_all.shape[0]
g = torch.Generator().manual_seed(0)
times = []
for s in range(steps):
    if s % max(1, n // 64) == 0:
        perm = torch.randperm(n, generator=g)
    i = perm[(s % max(1, n // 64)) * 64:][:64]
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x_all[i]), y_all[i])
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t)
    if (s + 1) % 250 == 0:
        print(f"steps {s + 1 - 250:5d}-{s + 1:5d}: median {1000 * statistics.median(times[-250:]):.2f} ms, "
              f"loss {loss.item():.4f}", flush=True)


def subnormal_share(tensors):
    tiny = torch.finfo(torch.float32).tiny
    total = sub = 0
    for t in tensors:
        a = t.detach().abs()
        sub += int(((a > 0) & (a < tiny)).sum())
        total += a.numel()
    return sub / max(total, 1)


bufs = [st["momentum_buffer"] for st in opt.state.values() if st.get("momentum_buffer") is not None]
print(f"subnormal share: weights {subnormal_share(model.parameters()):.2e}, momentum {subnormal_share(bufs):.2e}")
