"""Test set-up. TRITON_INTERPRET must be set before any @triton.jit function is defined, so it is
set here, before anything imports nasoa's kernels; triton is only used where a test forces it."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("NASOA_KERNELS", "auto")


import pytest  # noqa: E402

ENC = "031-_8_1-1-21-1"


@pytest.fixture(autouse=True, scope="session")
def _private_user_data_dir(tmp_path_factory):
    """Tests never read or write the real user data dir (a developer's own zoo, store or shipped
    experience would change what they see): $NASOA_DATA_DIR points into the session's tmp dir,
    for subprocesses too."""
    if os.environ.get("NASOA_DATA_DIR"):
        yield
        return
    os.environ["NASOA_DATA_DIR"] = str(tmp_path_factory.mktemp("user-data"))
    try:
        yield
    finally:
        os.environ.pop("NASOA_DATA_DIR", None)


@pytest.fixture(autouse=True)
def _fresh_model_registry():
    """A test that moved the user zoo ($NASOA_ZOO_DIR) or added a member leaves no member behind:
    the registry reads its sources again on the next lookup."""
    yield
    from nasoa.core.models import reset_registry

    reset_registry()


def tiny_net(task, seed: int = 0, size: int = 16):
    """A small ET-NAS network (``ENC``, random initialisation from ``seed``) with a head for ``task``."""
    import torch

    import nasoa

    torch.manual_seed(seed)
    return nasoa.create_model(ENC, num_classes=task.num_classes, input_size=size)


@pytest.fixture(scope="module")
def digits():
    """UCI digits, 40 images a class, at 16 px: a task :func:`tiny_net` trains on in seconds."""
    from nasoa.core.data import load_task

    return load_task("builtin:digits?per_class=40", seed=0).resized(16)


def make_tiny_zoo(root, mp: pytest.MonkeyPatch, name: str = "tiny_member") -> None:
    """Make the zoo one small pretrained-looking ET-NAS member (added with `nasoa zoo add` into a
    user zoo under ``root``), with stores that start empty: the shipped experience is about the
    real zoo, not this one. ``mp`` undoes it all."""
    import torch
    from safetensors.torch import save_file
    from typer.testing import CliRunner

    import nasoa
    import nasoa.app.experience
    import nasoa.core.models as M
    from nasoa.cli.main import app
    from nasoa.zoo import registry

    mp.setenv("NASOA_ZOO_DIR", str(root / "zoo"))
    M.reset_registry()
    torch.manual_seed(0)
    src = nasoa.create_model(ENC, num_classes=20, input_size=16)
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, root / "w.safetensors")
    r = CliRunner().invoke(app, ["zoo", "add", name, "--encoding", ENC, "--weights", str(root / "w.safetensors"),
                                 "--input-size", "16", "--source-accuracy", "0.8"])
    assert r.exit_code == 0, r.output
    user_only = [x for x in registry.records() if x["origin"] == "user"]
    mp.setattr(registry, "records", lambda include_user=True: [dict(x) for x in user_only])
    M.reset_registry()
    mp.setattr(nasoa.app.experience, "shipped_experience", lambda: root / "no-shipped-experience.parquet")


@pytest.fixture()
def tiny_zoo(tmp_path, monkeypatch):
    """A zoo of one small pretrained-looking ET-NAS member, so the tests run in seconds."""
    make_tiny_zoo(tmp_path, monkeypatch)
    return tmp_path
