"""Test set-up. TRITON_INTERPRET must be set before any @triton.jit function is defined, so it is
set here, before anything imports nasoa's kernels; triton is only used where a test forces it."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("NASOA_KERNELS", "auto")


import pytest  # noqa: E402

ENC = "031-_8_1-1-21-1"


@pytest.fixture()
def tiny_zoo(tmp_path, monkeypatch):
    """A zoo of one small pretrained-looking ET-NAS member, so the tests run in seconds."""
    import torch
    from safetensors.torch import save_file
    from typer.testing import CliRunner

    import nasoa
    import nasoa.models as M
    from nasoa.cli.main import app
    from nasoa.zoo import registry

    runner = CliRunner()

    monkeypatch.setenv("NASOA_ZOO_DIR", str(tmp_path / "zoo"))
    monkeypatch.setattr(M, "_ZOO_LOADED", False)
    monkeypatch.setattr(M, "_REGISTRY", dict(M._REGISTRY))
    torch.manual_seed(0)
    src = nasoa.create_model(ENC, num_classes=20, input_size=16)
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, tmp_path / "w.safetensors")
    r = runner.invoke(app, ["zoo", "add", "tiny_member", "--encoding", ENC, "--weights", str(tmp_path / "w.safetensors"),
                            "--input-size", "16", "--source-accuracy", "0.8"])
    assert r.exit_code == 0, r.output
    user_only = [x for x in registry.records() if x["origin"] == "user"]
    monkeypatch.setattr(registry, "records", lambda include_user=True: [dict(x) for x in user_only])
    monkeypatch.setattr(M, "_ZOO_LOADED", False)
    # Stores start empty here: the shipped experience is about the real zoo, not this one.
    import nasoa.adapt

    monkeypatch.setattr(nasoa.adapt, "shipped_experience", lambda: tmp_path / "no-shipped-experience.parquet")
    return tmp_path


