"""Weight files -> ready networks: the architecture told from the tensors, cached in memory.

Recognised formats (keys and shapes are checked, so a file of another architecture is named as such):

* feed-forward: a TransformerNet state dict, pytorch/examples ``fast_neural_style`` ``.pth`` or
  brushwork ``.safetensors``;
* fast arbitrary style: brushwork's ``FastArbitraryNet`` ``.safetensors``;
* AdaIN: brushwork's decoder with skips (``merge1_1.weight`` ...) or a classic decoder
  (``conv4_1.weight`` ...), paired with brushwork's VGG19; or
  pytorch-AdaIN's ``decoder.pth``, paired with its ``vgg_normalised.pth`` (given alongside, lying
  next to the decoder, or found in the search folders).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import registry
from .errors import RequestError, WeightsError
from .methods.adain import AdaINNet
from .networks.decoder import DECODER_CONVS, is_adain_decoder, load_decoder
from .networks.fast_arbitrary import is_fast_arbitrary, load_fast_arbitrary
from .networks.skip_decoder import is_skip_decoder, load_skip_decoder
from .networks.transformer_net import is_transformer_net, load_transformer_net
from .networks.vgg import is_adain_vgg, load_vgg19, vgg19_from_state
from .tensor_files import read_tensors

ADAIN_ENCODER_FILE = "vgg_normalised.pth"
CACHE_SIZE = 8
FAMILY_NAMES = {
    "adain": "an AdaIN decoder", "feedforward": "a feed-forward style model", "fast": "a fast arbitrary-style model",
}


@dataclass(frozen=True)
class LoadedModel:
    """A network ready to run, with where it came from."""

    name: str
    family: str
    paths: tuple[Path, ...]
    network: nn.Module


_cache: OrderedDict[tuple, LoadedModel] = OrderedDict()


def _kind(state: dict[str, torch.Tensor]) -> str:
    if is_transformer_net(state):
        return "feedforward"
    if is_fast_arbitrary(state):
        return "fast"
    if is_skip_decoder(state) or is_adain_decoder(state) or f"{DECODER_CONVS[0]}.weight" in state:
        return "adain"
    if is_adain_vgg(state):
        return "adain-encoder"
    return "unknown"


def _describe(kind: str) -> str:
    return FAMILY_NAMES.get(kind, "pytorch-AdaIN's VGG19 encoder" if kind == "adain-encoder" else "no known model")


def _build(paths: list[Path], family: str, device: torch.device | str, dtype: torch.dtype) -> nn.Module:
    states = {path: read_tensors(path, "model weights")[0] for path in paths}
    kinds = {path: _kind(state) for path, state in states.items()}
    main = [path for path in paths if kinds[path] == family]
    if not main:
        found = "; ".join(f"{path} is {_describe(kinds[path])}" for path in paths)
        first_keys = ", ".join(list(next(iter(states.values())))[:3])
        hint = f" (its first keys: {first_keys})" if all(kind == "unknown" for kind in kinds.values()) else ""
        raise WeightsError(f"{FAMILY_NAMES[family]} was asked for, but {found}{hint}")
    source = main[0]
    if family == "feedforward":
        return load_transformer_net(states[source], str(source)).to(device, dtype)
    if family == "fast":
        return load_fast_arbitrary(states[source], str(source)).to(device, dtype)
    if is_skip_decoder(states[source]):
        skip_decoder = load_skip_decoder(states[source], str(source))
        return AdaINNet(load_vgg19().to(device, dtype), skip_decoder.to(device, dtype))
    decoder = load_decoder(states[source], str(source)).to(device, dtype)
    if not is_adain_decoder(states[source]):
        return AdaINNet(load_vgg19().to(device, dtype), decoder)
    encoders = [path for path in paths if kinds[path] == "adain-encoder"]
    beside = source.with_name(ADAIN_ENCODER_FILE)
    encoder = encoders[0] if encoders else beside if beside.is_file() else registry.find_file(ADAIN_ENCODER_FILE)
    if encoder is None:
        raise WeightsError(
            f"{source} is pytorch-AdaIN's decoder; it needs {ADAIN_ENCODER_FILE} from the same release, "
            f"next to it or in {', '.join(str(d) for d in registry.search_dirs())}"
        )
    state = states[encoder] if encoder in states else read_tensors(encoder, "model weights")[0]
    if not is_adain_vgg(state):
        raise WeightsError(f"{encoder} is not pytorch-AdaIN's {ADAIN_ENCODER_FILE} (no 1x1 input convolution)")
    return AdaINNet(vgg19_from_state(state, str(encoder)).to(device, dtype), decoder)


def load_model(
    spec: str | Path | LoadedModel | None,
    family: str,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    cache: bool = True,
) -> LoadedModel:
    """The ``family`` model named by ``spec`` (None: the installed default), on ``device`` in ``dtype``.

    Networks are kept in channels-last memory format (faster convolutions on CPU and GPU), and, with
    ``cache``, loaded models are kept per (files, their modification times, device, dtype); without it
    the network is the caller's alone (a host whose own memory manager owns the models).
    """
    if family not in FAMILY_NAMES:
        raise RequestError(f"unknown model family {family!r}: use one of {', '.join(FAMILY_NAMES)}")
    if isinstance(spec, LoadedModel):
        if spec.family != family:
            raise RequestError(f"{FAMILY_NAMES[family]} was asked for, but {spec.name} is {_describe(spec.family)}")
        return spec
    name = registry.default_model(family) if spec is None else str(spec)
    paths = registry.resolve(name)
    key = (tuple((str(p.resolve()), p.stat().st_mtime_ns) for p in paths), family, str(device), dtype)
    if cache and key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    network = _build(paths, family, device, dtype).to(memory_format=torch.channels_last)
    model = LoadedModel(name, family, tuple(paths), network)
    if not cache:
        return model
    _cache[key] = model
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return model


def detect_family(spec: str | Path) -> str:
    """The family (``adain``, ``feedforward`` or ``fast``) of the model named by ``spec``, told from its tensors."""
    paths = registry.resolve(str(spec))
    kinds = {path: _kind(read_tensors(path, "model weights")[0]) for path in paths}
    for kind in kinds.values():
        if kind in FAMILY_NAMES:
            return kind
    found = "; ".join(f"{path} is {_describe(kind)}" for path, kind in kinds.items())
    raise WeightsError(f"{spec} is no style model brushwork knows: {found}")


def clear_cache() -> None:
    """Forget every loaded model (hosts call this under memory pressure)."""
    _cache.clear()
