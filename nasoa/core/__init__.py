"""The core: what every part above builds on, and nothing above it.

The ET-NAS search space (``space``) and its networks (``net``), the model registry (``models``), task
data (``data``, ``families``), fine-tuning within a deadline (``train``, ``deadline``, ``optim``,
``profile``, ``cpu_safe``), and the shared plumbing (``errors``, ``runtime``, ``provenance``,
``figures``, ``checksums``). It imports only :mod:`nasoa.kernels`; the zoo, the meta-model and the
application import it (``.importlinter``).
"""
