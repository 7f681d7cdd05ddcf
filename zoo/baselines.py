"""timm baselines for the zoo benchmark, adapted to small inputs the way the zoo's small stem is:
the stem convolution runs at stride 1 (and ResNet's max-pool is dropped) for inputs <= 64 px."""

from __future__ import annotations


from torch import nn

BASELINES = ("resnet18", "mobilenetv3_large_100", "efficientnet_b0", "regnety_002")


def create_baseline(name: str, num_classes: int, input_size: int = 32) -> nn.Module:
    import timm  # lazy: timm (~1 s); the zoo bench reads BASELINES without building one

    model = timm.create_model(name, pretrained=False, num_classes=num_classes)
    if input_size <= 64:
        first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        first.stride = (1, 1)
        if hasattr(model, "maxpool"):
            model.maxpool = nn.Identity()
    model.nasoa_name = name  # type: ignore[attr-defined]
    model.in_chans = 3  # type: ignore[attr-defined]
    return model


__all__ = ["BASELINES", "create_baseline"]

