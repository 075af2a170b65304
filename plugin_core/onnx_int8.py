"""INT8 graphs: the heavy graph of a one-pass model statically quantised for onnxruntime.

QDQ format: weights int8 per output channel, activations uint8 per tensor, their ranges calibrated
(min/max) on photos and paintings. What is quantised was chosen by measuring the output against
float32's (SSIM of luminance and the Gram style loss, ``bench/int8.py``):

=============  ===========================================  =========================================
family         quantised graph                              kept float32
=============  ===========================================  =========================================
feedforward    ``NAME.int8.onnx``: the network              its first and last convolutions
adain          ``NAME.int8.encoder.onnx``: VGG19's encoder  the decoder (quantised, it repaints the
                                                            image: SSIM 0.6 to float32's)
fast           not offered                                  its network (174 k parameters then) was no
                                                            quicker in INT8 at 512 px, and lost (SSIM 0.89)
=============  ===========================================  =========================================

An INT8 graph is found beside its model's weights, else in the model folders
(:func:`plugin_core.registry.find_file`); ``brushwork export onnx MODEL --int8`` makes one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from . import onnx_backend, registry
from .controls import INT8_METHODS
from .errors import RequestError
from .files import atomic_path
from .image import fit_long_side, resize
from .loaders import LoadedModel

QUANTISED = {"feedforward": ("", 1), "adain": (".encoder", 0)}
"""Family -> (the suffix of its quantised graph, how many convolutions at each end stay float32)."""
CALIBRATION_SIDE = 384
STRIDE = 8
"""Calibration images are cut to multiples of every quantised graph's stride."""


def graph_name(model: LoadedModel) -> str:
    """The file name of ``model``'s INT8 graph: its weights' stem, ``.int8``, the graph's suffix."""
    suffix, _ = QUANTISED[model.family]
    return f"{Path(model.paths[0]).stem}.int8{suffix}.onnx"


def check_offered(family: str) -> None:
    if family not in INT8_METHODS:
        raise RequestError(f"int8 is offered for {' and '.join(INT8_METHODS)} models, not {family}: its small "
                           "network paints no quicker in INT8 and loses quality (docs/benchmarks.md); use float32")


def graphs(model: LoadedModel) -> dict[str, Path]:
    """Graph suffix -> ``model``'s INT8 graph (beside its weights, else in the model folders), for
    :func:`plugin_core.onnx_backend.runtime` to run in place of the float one."""
    check_offered(model.family)
    name = graph_name(model)
    beside = Path(model.paths[0]).with_name(name)
    found = beside if beside.is_file() else registry.find_file(name)
    if found is None:
        raise RequestError(f"no INT8 graph for {model.name}: {name} is neither beside {model.paths[0]} nor in "
                           f"{', '.join(map(str, registry.search_dirs()))}. Make one with `brushwork export onnx "
                           f"{model.name} --int8 --calibrate FOLDER...`")
    suffix, _ = QUANTISED[model.family]
    return {suffix: found}


def _calibration(images: Sequence[torch.Tensor]) -> Iterator[torch.Tensor]:
    """Each image at ``CALIBRATION_SIDE``, cut to multiples of ``STRIDE``."""
    for image in images:
        height, width = fit_long_side(*image.shape[-2:], CALIBRATION_SIDE)
        yield resize(image, (height, width))[..., : height // STRIDE * STRIDE, : width // STRIDE * STRIDE]


def _convolutions(path: Path) -> list[str]:
    import onnx

    return [node.name for node in onnx.load(str(path)).graph.node if node.op_type == "Conv"]


def quantise(model: LoadedModel, images: Sequence[torch.Tensor], output: Path) -> Path:
    """Write ``model``'s INT8 graph to ``output``, its activations' ranges read on ``images``
    (``[1,3,H,W]`` photos and paintings in 0..1)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    check_offered(model.family)
    if not images:
        raise RequestError("INT8 calibration needs at least one photo or painting")
    suffix, ends = QUANTISED[model.family]
    with tempfile.TemporaryDirectory() as folder:
        main = Path(folder) / "float.onnx"
        onnx_backend.export(model, main)
        graph = main.with_name(main.stem + suffix + ".onnx")
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(graph), str(prepared), skip_symbolic_shape=True)
        name = onnx_backend.Graph(graph).inputs[0]
        feeds = iter({name: image.float().numpy()} for image in _calibration(images))

        class Feeds(CalibrationDataReader):
            def get_next(self) -> dict | None:
                return next(feeds, None)

        convolutions = _convolutions(prepared)
        kept = [*convolutions[:ends], *convolutions[len(convolutions) - ends:]]
        with atomic_path(output) as temporary:
            quantize_static(str(prepared), str(temporary), Feeds(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            op_types_to_quantize=["Conv"], nodes_to_exclude=kept,
                            calibrate_method=CalibrationMethod.MinMax)
    return output
