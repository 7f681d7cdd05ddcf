"""timm-style registry: ``create_model(name_or_encoding, ...)`` and ``list_models(pattern)``.

Three kinds of names resolve here: the 12 published ET-NAS models (architectures only: their
weights are not obtainable), the members of the pretrained zoo (:mod:`nasoa.zoo`, with weights
shipped in the package; the zoo registers them as a source when it is imported), and any raw
ET-NAS encoding string. One registry, families register into it, :func:`reset_registry` for tests.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from nasoa.core.errors import NasoaError, PretrainedUnavailableError
from nasoa.core.space import EncodingError, parse

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ModelEntry", "PUBLISHED", "create_model", "list_models", "register_model", "register_source",
           "reset_registry", "get_entry", "is_model"]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: a name, how to build it, and what is known about it."""

    name: str
    encoding: str | None = None  # ET-NAS encoding; None for other families
    family: str = "etnas"
    default_input_size: int = 224
    builder: Callable[..., "nn.Module"] | None = None  # for non-ET-NAS families
    pretrained: bool = False  # weights available offline
    load_weights: Callable[["nn.Module"], None] | None = None
    info: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelEntry] = {}

# The 12 published ET-NAS models (ImageNet, 224 px), keyed by the encoding whose parameter and MAC
# counts match each row of the NASOA README. The repo's MODEL_MAPPINGS and checkpoint folders swap
# E<->F and G<->H relative to that table; we follow the table (params, MACs, top-1 agree with it).
# info: params (M) and GMACs as vega's model zoo lists them; top-1 and V100 bs64 train-step ms from
# the NASOA README.
PUBLISHED: dict[str, tuple[str, dict]] = {
    "etnas_a": ("2-_32_2-11-112-1121112", {"mparams": 2.62, "gmacs": 0.23, "top1": 62.06, "v100_train_step_ms": 14.74}),
    "etnas_b": ("031-_32_1-1-221-11121", {"mparams": 3.94, "gmacs": 0.39, "top1": 66.92, "v100_train_step_ms": 15.78}),
    "etnas_c": ("011-_32_2-211-2-111122", {"mparams": 7.13, "gmacs": 0.58, "top1": 71.29, "v100_train_step_ms": 26.28}),
    "etnas_d": ("031-_64_1-1-221-11121", {"mparams": 15.24, "gmacs": 1.55, "top1": 74.46, "v100_train_step_ms": 36.30}),
    "etnas_e": ("011-_64_21-211-121-11111121", {"mparams": 21.42, "gmacs": 2.61, "top1": 76.87, "v100_train_step_ms": 61.95}),
    "etnas_f": ("10001-_64_4-111-11122-1111111111111112", {"mparams": 28.45, "gmacs": 2.31, "top1": 78.80, "v100_train_step_ms": 93.04}),
    "etnas_g": ("211-_64_41-211-121-11111121", {"mparams": 49.29, "gmacs": 5.68, "top1": 80.41, "v100_train_step_ms": 133.97}),
    "etnas_h": ("10001-_64_4-111111111-211112111112-11111", {"mparams": 44.00, "gmacs": 5.33, "top1": 80.92, "v100_train_step_ms": 193.40}),
    "etnas_i": ("02031-a02_64_111-2111-21111111111111111111111-211", {"mparams": 72.44, "gmacs": 13.13, "top1": 81.38, "v100_train_step_ms": 265.13}),
    "etnas_j": ("211-_64_411-2111-21111111111111111111111-211", {"mparams": 103.00, "gmacs": 18.16, "top1": 82.08, "v100_train_step_ms": 370.28}),
    "etnas_k": ("02031-a02_64_1121-111111111111111111111111111-21111111211111-1", {"mparams": 87.34, "gmacs": 27.51, "top1": 82.42, "v100_train_step_ms": 505.00}),
    "etnas_l": ("23311-a02c12_64_211-2111-21111111111111111111111-211", {"mparams": 130.45, "gmacs": 23.46, "top1": 82.65, "v100_train_step_ms": 542.52}),
}


def register_model(entry: ModelEntry, overwrite: bool = False) -> ModelEntry:
    """Add ``entry`` to the registry; refuses to replace an existing name unless ``overwrite``."""
    if entry.name in _REGISTRY and not overwrite:
        raise NasoaError(f"a model named {entry.name!r} is already registered; pick another name")
    _REGISTRY[entry.name] = entry
    return entry


for _name, (_enc, _info) in PUBLISHED.items():
    register_model(
        ModelEntry(
            _name,
            encoding=_enc,
            info={
                **_info,
                "source": "NASOA (ICCV 2021) ET-NAS-" + _name[-1].upper() + ", ImageNet-1k",
                "weights": "unavailable: the released checkpoints are no longer downloadable",
            },
        )
    )

# Families of models outside this module register a *source*: a function that lists their entries,
# called on the first lookup (the zoo reads its JSON registry then, not at import). The zoo
# registers itself when :mod:`nasoa.zoo` is imported (the application imports it), so this core
# module never imports a layer above it.
_SOURCES: dict[str, Callable[[], Iterable[ModelEntry]]] = {}
# The names each source supplied; a source is read when it has no entry here.
_FROM_SOURCE: dict[str, list[str]] = {}


def _forget(source: str) -> None:
    for name in _FROM_SOURCE.pop(source, []):
        _REGISTRY.pop(name, None)


def register_source(name: str, entries: Callable[[], Iterable[ModelEntry]]) -> None:
    """Register a family of models read lazily: ``entries()`` is called on the next lookup, and
    again after :func:`reset_registry`. Registering the same ``name`` again replaces it (and the
    entries it supplied)."""
    _forget(name)
    _SOURCES[name] = entries


def reset_registry() -> None:
    """Forget the entries the sources supplied, so the next lookup reads them again (after a member
    was added or the user zoo moved, e.g. ``$NASOA_ZOO_DIR`` changed; tests use it between cases).
    Models registered with :func:`register_model` stay."""
    for source in list(_FROM_SOURCE):
        _forget(source)


def _load_sources() -> None:
    for source, entries in list(_SOURCES.items()):
        if source in _FROM_SOURCE:
            continue
        supplied = _FROM_SOURCE[source] = []
        for entry in entries():
            if entry.name not in _REGISTRY:
                _REGISTRY[entry.name] = entry
                supplied.append(entry.name)


def list_models(pattern: str = "*", pretrained: bool | None = None, family: str | None = None) -> list[str]:
    """Registered names matching a glob ``pattern``; ``pretrained=True`` keeps those with weights."""
    _load_sources()
    names = []
    for name, e in sorted(_REGISTRY.items()):
        if not fnmatch.fnmatch(name, pattern):
            continue
        if pretrained is not None and e.pretrained != pretrained:
            continue
        if family is not None and e.family != family:
            continue
        names.append(name)
    return names


def is_model(name: str) -> bool:
    _load_sources()
    return name in _REGISTRY


def _looks_like_encoding(s: str) -> bool:
    """Only the encoding alphabet, or a first part with a digit: parse it and report the position."""
    return re.fullmatch(r"[\s0-9ac_\-]*", s) is not None or any(ch.isdigit() or ch == "-" for ch in s.split("_")[0])


def get_entry(name_or_encoding: str) -> ModelEntry:
    """The registry entry of a name, or an ad-hoc entry for a raw ET-NAS encoding."""
    _load_sources()
    if name_or_encoding in _REGISTRY:
        return _REGISTRY[name_or_encoding]
    if _looks_like_encoding(name_or_encoding):
        arch = parse(name_or_encoding)  # raises EncodingError with the position
        return ModelEntry(arch.encoding, encoding=arch.encoding, family="etnas", info={"source": "encoding"})
    close = [n for n in _REGISTRY if name_or_encoding.lower() in n or n in name_or_encoding.lower()]
    hint = f" (did you mean {', '.join(sorted(close)[:3])}?)" if close else ""
    raise NasoaError(
        f"unknown model {name_or_encoding!r}{hint}; see `nasoa zoo list`, or pass an ET-NAS encoding such as "
        f"{PUBLISHED['etnas_b'][0]!r}"
    )


def create_model(
    name_or_encoding: str,
    pretrained: bool = False,
    num_classes: int = 1000,
    in_chans: int = 3,
    input_size: int | None = None,
    stem: str | None = None,
) -> "nn.Module":
    """Build a registered model or an ET-NAS encoding.

    Args:
        name_or_encoding: a name from :func:`list_models` or an encoding ``"{block}_{C0}_{macro}"``.
        pretrained: load the weights shipped with the zoo (offline) and replace the head with a new
            one for ``num_classes``. Raises :class:`PretrainedUnavailableError` where none exist.
        num_classes: classifier outputs.
        in_chans: input channels.
        input_size: intended input resolution (picks the ET-NAS stem); defaults to the entry's.
        stem: force ``"large"`` or ``"small"`` for ET-NAS networks.
    """
    entry = get_entry(name_or_encoding)
    if pretrained and not entry.pretrained:
        why = entry.info.get("weights", "no weights are registered for it")
        raise PretrainedUnavailableError(
            f"no pretrained weights for {entry.name!r} ({why}); use pretrained=False or a zoo member "
            f"from `nasoa zoo list --pretrained`"
        )
    size = input_size or entry.default_input_size
    if entry.builder is not None:
        model = entry.builder(num_classes=num_classes, in_chans=in_chans, input_size=size)
    else:
        from nasoa.core.net import ETNasNet  # lazy: torch; reading the registry stays cheap (`nasoa --help`)

        if entry.encoding is None:
            raise NasoaError(f"registry entry {entry.name!r} has neither an encoding nor a builder")
        model = ETNasNet(entry.encoding, num_classes=num_classes, in_chans=in_chans, input_size=size, stem=stem)
    if pretrained:
        assert entry.load_weights is not None
        entry.load_weights(model)
        if hasattr(model, "reset_classifier"):
            model.reset_classifier(num_classes)
    model.nasoa_name = entry.name  # type: ignore[attr-defined]
    return model


__all__ += ["EncodingError"]
