"""The ONNX backend: brushwork's one-pass networks as ONNX graphs, run by onnxruntime.

Each model exports to float32 graphs with a dynamic batch, height and width (sides multiples of
the network's stride), which the methods run as they run the torch networks:

=============  ==================================  ==============================================
family         files                               inputs -> output
=============  ==================================  ==============================================
feedforward    ``NAME.onnx``                       image ``[B,3,H,W]`` -> image
fast           ``NAME.onnx``, ``NAME.style.onnx``  content, code ``[B,128]`` -> image; style -> code
adain          ``NAME.onnx``, ``NAME.encoder.onnx``  features -> image; image -> features (relu4_1,
                                                   or relu1_1..relu4_1 for the decoder with skips)
=============  ==================================  ==============================================

Images are RGB in 0..1. Feed-forward and fast graphs normalise inside themselves, so they run
whole images, never tiles. The backend exports a model once into the user cache, keyed by the
sha256 of its weight files, and checks every export against torch on an image.
Needs the ``onnx`` extra: ``pip install 'brushwork[onnx]'`` (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from . import registry
from .errors import RequestError, ResultError
from .files import atomic_path
from .loaders import LoadedModel, load_model
from .networks import decoder, fast_arbitrary, transformer_net

OPSET = 18
MATCH_TOLERANCE = 1e-3
"""Largest difference between an exported graph and torch on the check image, relative to the
largest output value (at least 1: images are 0..1, VGG features reach hundreds)."""
CHECK_SIDE = 96
EXPORTER_LOGGER = "torch.onnx"
"""torch's exporter logs a warning for every optional operator library it lacks (torchvision's)."""
EXTRA = ("onnx", "onnxscript", "onnxruntime")
GRAPHS = {"feedforward": ("",), "fast": ("", ".style"), "adain": ("", ".encoder")}
"""The suffixes of each family's graph files: the main graph, then its companion."""


def check_installed() -> None:
    """Raise a clear error when the ``onnx`` extra is missing."""
    missing = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise RequestError(f"the onnx backend needs {', '.join(missing)}: pip install 'brushwork[onnx]'")


class _Encoder(nn.Module):
    """AdaIN's encoder as a graph: RGB -> the features of every level its decoder reads."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.encoder, self.levels = net.encoder, net.levels

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.encoder(image, self.levels)
        return tuple(features[level] for level in self.levels)


class _StyleCode(nn.Module):
    """The fast model's style encoder as a graph: RGB -> code."""

    def __init__(self, net: fast_arbitrary.FastArbitraryNet):
        super().__init__()
        self.net = net

    def forward(self, style: torch.Tensor) -> torch.Tensor:
        return self.net.style_code(style)


def _graphs(model: LoadedModel) -> dict[str, tuple[nn.Module, tuple[torch.Tensor, ...], int]]:
    """Suffix -> (module, example inputs, stride of the image inputs), for each graph of ``model``."""
    net, side = model.network, CHECK_SIDE
    # a batch of 2: torch.export fixes a dimension whose example size is 1
    image = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(0))
    if model.family == "feedforward":
        return {"": (net, (image,), transformer_net.SCALE)}
    if model.family == "fast":
        code = net.style_code(image)
        return {"": (net, (image, code), fast_arbitrary.SCALE),
                ".style": (_StyleCode(net), (image,), fast_arbitrary.SCALE)}
    features = tuple(net.encode(image))
    return {"": (net.decoder, features, 1), ".encoder": (_Encoder(net), (image,), decoder.SCALE)}


def _dynamic(inputs: tuple[torch.Tensor, ...], stride: int) -> tuple[dict, ...]:
    """Batch, height and width free for 4-d inputs: one height and one width, multiples of ``stride``
    for the smallest input and the same multiple of it for larger ones (a decoder's levels)."""
    dim = torch.export.Dim
    batch, rows, columns = dim("batch"), dim("rows", min=2), dim("columns", min=2)
    smallest = min(tensor.shape[-1] for tensor in inputs if tensor.dim() == 4)
    shapes = []
    for tensor in inputs:
        if tensor.dim() == 4:
            times = stride * tensor.shape[-1] // smallest
            shapes.append({0: batch, 2: times * rows, 3: times * columns})
        else:
            shapes.append({0: batch})
    return tuple(shapes)


@contextlib.contextmanager
def _quiet(name: str):
    """Only errors from logger ``name`` while the block runs."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def export(model: LoadedModel, output: Path) -> list[Path]:
    """Write ``model``'s graphs next to ``output`` (``NAME.onnx`` and its companion), each checked
    against torch; returns their paths."""
    check_installed()
    model = load_model(model.name, model.family, "cpu", torch.float32)
    output = Path(output)
    if output.suffix != ".onnx":
        raise RequestError(f"cannot write {output}: ONNX files end in .onnx")
    written = []
    for suffix, (module, inputs, stride) in _graphs(model).items():
        path = output.with_name(output.stem + suffix + ".onnx")
        with atomic_path(path) as temporary, warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                _quiet(EXPORTER_LOGGER):
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), inputs, str(temporary), dynamic_shapes=_dynamic(inputs, stride),
                              opset_version=OPSET, external_data=False, verbose=False)
        with torch.inference_mode():
            expected = module(*inputs)
        for got, wanted in zip(Graph(path).outputs(*inputs), _as_tuple(expected), strict=True):
            difference = (got - wanted).abs().max()
            if not difference <= MATCH_TOLERANCE * wanted.abs().max().clamp_min(1):
                path.unlink()
                raise ResultError(f"the ONNX graph {path.name} differs from torch by {difference:.2g}")
        written.append(path)
    return written


class Graph:
    """One onnxruntime session: torch tensors in (as float32), a float32 torch tensor out."""

    def __init__(self, path: Path, device: torch.device = torch.device("cpu")):
        import onnxruntime

        wanted = ["CPUExecutionProvider"]
        if device.type == "cuda":
            wanted.insert(0, "CUDAExecutionProvider")
        providers = [p for p in wanted if p in onnxruntime.get_available_providers()]
        options = onnxruntime.SessionOptions()
        options.enable_cpu_mem_arena = False  # the arena keeps every size's buffers: images vary in size
        self.session = onnxruntime.InferenceSession(str(path), options, providers=providers)
        self.inputs = [node.name for node in self.session.get_inputs()]
        self.device = device

    def outputs(self, *tensors: torch.Tensor) -> list[torch.Tensor]:
        """Every output of the graph for ``tensors``."""
        feed = {
            name: tensor.detach().float().cpu().contiguous().numpy()
            for name, tensor in zip(self.inputs, tensors, strict=True)
        }
        return [torch.from_numpy(out).to(self.device) for out in self.session.run(None, feed)]

    def __call__(self, *tensors: torch.Tensor) -> torch.Tensor:
        """The graph's (first) output."""
        return self.outputs(*tensors)[0]


def _as_tuple(output: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return output if isinstance(output, tuple) else (output,)


class FeedForwardGraph:
    """A feed-forward style on onnxruntime, called as a ``TransformerNet`` is."""

    dtype = torch.float32

    def __init__(self, graph: Graph):
        self.graph = graph

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return self.graph(image)


class FastGraph:
    """A fast arbitrary-style model on onnxruntime, called as a ``FastArbitraryNet`` is."""

    dtype = torch.float32

    def __init__(self, graph: Graph, style: Graph):
        self.graph, self.style = graph, style

    def __call__(self, content: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return self.graph(content, code)

    def style_code(self, style: torch.Tensor) -> torch.Tensor:
        return self.style(style)


class AdaINGraph:
    """An AdaIN encoder and decoder on onnxruntime, used as an ``AdaINNet`` is."""

    dtype = torch.float32

    def __init__(self, decoder: Graph, encoder: Graph):
        self.decoder, self.encoder = decoder, encoder

    @property
    def levels(self) -> tuple[str, ...]:
        """The decoder graph's input names, one per level."""
        return tuple(self.decoder.inputs)

    def encode(self, image: torch.Tensor) -> list[torch.Tensor]:
        return self.encoder.outputs(image)

    def decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.decoder(*features)


ADAPTERS: dict[str, Callable[..., object]] = {"feedforward": FeedForwardGraph, "fast": FastGraph, "adain": AdaINGraph}
_runtimes: dict[tuple, object] = {}


def _digest(model: LoadedModel) -> str:
    digest = hashlib.sha256(model.family.encode())
    for path in model.paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:20]


def runtime(model: LoadedModel, device: torch.device, replaced: dict[str, Path] | None = None):
    """``model`` as onnxruntime graphs on ``device``, exported into the user cache on first use;
    ``replaced``: graph suffix -> a file to run instead (an INT8 graph, :mod:`plugin_core.onnx_int8`)."""
    check_installed()
    replaced = replaced or {}
    key = (tuple(str(p) for p in model.paths), model.family, str(device), tuple(sorted(replaced.items())))
    if key not in _runtimes:
        folder = registry.cache_dir() / "onnx"
        folder.mkdir(parents=True, exist_ok=True)
        main = folder / f"{model.family}-{_digest(model)}.onnx"
        paths = {suffix: main.with_name(main.stem + suffix + ".onnx") for suffix in GRAPHS[model.family]}
        if not all(path.is_file() for suffix, path in paths.items() if suffix not in replaced):
            export(model, main)
        graphs = (Graph(replaced.get(suffix, path), device) for suffix, path in paths.items())
        _runtimes[key] = ADAPTERS[model.family](*graphs)
    return _runtimes[key]

