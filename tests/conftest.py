"""Test set-up. TRITON_INTERPRET must be set before any @triton.jit function is defined, so it is
set here, before anything imports nasoa's kernels; triton is only used where a test forces it."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("NASOA_KERNELS", "auto")
