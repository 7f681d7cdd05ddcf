"""Seconds and peak memory of load_task on a folder at a read side: python load_time.py FOLDER SIDE
(run each side in its own process, under /usr/bin/time -f '%e s %M KB', for the peak RSS)."""

from __future__ import annotations

import sys
import time
import warnings

from nasoa.core.data import load_task

warnings.simplefilter("ignore")
t = time.perf_counter()
task = load_task(sys.argv[1], max_side=int(sys.argv[2]))
print(f"load_task {time.perf_counter() - t:.2f} s, train {tuple(task.x_train.shape)}, "
      f"fit {task.info['image_format']['fit']}")
