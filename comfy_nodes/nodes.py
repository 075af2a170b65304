"""What brushwork's ComfyUI nodes do, as plain functions over :mod:`plugin_core` (their inputs and
tooltips are declared for ComfyUI in :mod:`.schema`; the unit tests call these directly).

Every styling node works frame by frame (an IMAGE batch is a series of frames), checks for
Cancel between frames and steps, reports progress, and returns an IMAGE at the working size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plugin_core import watermark
from plugin_core.color import transfer_color
from plugin_core.errors import Cancelled, RequestError
from plugin_core.image import resize
from plugin_core.methods.gatys import GatysSettings
from plugin_core.regions import Region, Style
from plugin_core.requests import Fields, build
from plugin_core.video.frames import stylize_frames

from . import host
from .convert import frame_mask, image_in, image_out, masks_in

GRAM_PREVIEW_EVERY = 5
PROGRESS_PER_FRAME = 1000
"""Ticks of ComfyUI's progress bar per frame: the core reports fractions of a frame."""


@dataclass(frozen=True)
class RegionInput:
    """One link of a ``BRUSHWORK_REGIONS`` chain: style images ``[N,3,H,W]``, a MASK, a weight."""

    styles: torch.Tensor
    mask: torch.Tensor
    weight: float


def _weights(text: str, count: int) -> list[float]:
    """``"3, 1"`` -> ``[3.0, 1.0]``; empty: equal weights."""
    if not text.strip():
        return [1.0] * count
    try:
        weights = [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise RequestError(f"style weights must be numbers separated by commas, got {text!r}") from None
    if len(weights) != count:
        raise RequestError(f"{len(weights)} style weights for {count} style images")
    return weights


@dataclass(frozen=True)
class Plan:
    """A node's styles: its own (style images, their weights, its mask per frame) and the chained
    regions (each with its mask per frame, scaled by the region's weight)."""

    styles: list[torch.Tensor]
    weights: list[float]
    masks: torch.Tensor | None
    regions: list[tuple[list[Style], torch.Tensor | None]]

    def fields(self, method: str, frame: int, **values) -> Fields:
        """The fields of one frame; ``values``: the node's other inputs."""
        mask = frame_mask(self.masks, frame)
        return Fields(method=method, styles=self.styles, style_weights=self.weights,
                      masks=[] if mask is None else [mask], **values)

    def more_regions(self, frame: int) -> list[Region]:
        return [Region(styles, frame_mask(masks, frame)) for styles, masks in self.regions]


def _plan(style, style_weights: str, mask, regions, size: tuple[int, int]) -> Plan:
    """The node's own style (with its mask), then the chained regions."""
    styles = [] if style is None else list(image_in(style, "style").split(1))
    chained = []
    for index, region in enumerate(regions or []):
        masks = masks_in(region.mask, size, f"mask of region {index + 1}")
        chained.append(([Style(s[None]) for s in region.styles], None if masks is None else masks * region.weight))
    if not styles and not chained:
        raise RequestError("no style: connect a style image or Style Regions")
    return Plan(styles, _weights(style_weights, len(styles)) if styles else [], masks_in(mask, size, "mask"), chained)


def _run(content, make_request, temporal: str = "off") -> torch.Tensor:
    """Stylize every frame of ``content`` with ``make_request(frame_image, frame)``, as a clip when
    ``temporal`` says so (:mod:`plugin_core.video.frames`), with ComfyUI's progress bar over all the
    frames (and the core's previews); Cancel stops."""
    frames = image_in(content, "image")
    count = frames.shape[0]
    bar = host.Progress(count * PROGRESS_PER_FRAME)

    def requests():
        for frame in range(count):
            if host.interrupted():
                host.raise_interrupt()
            request = make_request(frames[frame : frame + 1], frame)
            request.cancel = host.interrupted
            request.progress = lambda report, frame=frame: bar.update(
                round((frame + report.fraction) * PROGRESS_PER_FRAME), count * PROGRESS_PER_FRAME, report.image)
            yield request

    results = []
    try:
        for result in stylize_frames(requests(), temporal):
            results.append(result)
            bar.update(len(results) * PROGRESS_PER_FRAME, count * PROGRESS_PER_FRAME, result)
    except Cancelled:
        host.raise_interrupt()
        raise
    return image_out(torch.cat(results), host.output_device())


def load_style_model(model_name: str) -> host.HostModel:
    """Load Style Model: a combo choice as a ``BRUSHWORK_MODEL`` (the family told from the file)."""
    return host.load(model_name)


def style_transfer(image, model, strength, size, color, style_weights, style=None, mask=None, regions=None, tile=0,
                   temporal="off", watermark=True) -> torch.Tensor:
    """Style Transfer (AdaIN / fast): one pass with an AdaIN decoder or a fast model."""
    loaded = host.ready(model)
    if loaded.family not in ("adain", "fast"):
        raise RequestError(f"{loaded.name} is a {loaded.family} model: use it with Style Transfer (Feed-forward)")
    plan = _plan(style, style_weights, mask, regions, tuple(image.shape[1:3]))

    def request(frame_image, frame):
        wanted = plan.fields(loaded.family, frame, models=[loaded], strength=strength, size=size, tile=tile,
                             color=color, watermark=watermark)
        return build(frame_image, wanted, plan.more_regions(frame), device=str(host.device()))

    return _run(image, request, temporal)


def feedforward(image, model, strength, size, color, mask=None, tile=0, temporal="off", watermark=True) -> torch.Tensor:
    """Style Transfer (Feed-forward): a trained feed-forward style."""
    loaded = host.ready(model)
    if loaded.family != "feedforward":
        raise RequestError(f"{loaded.name} is an {loaded.family} model: use it with Style Transfer (AdaIN / fast)")
    masks = masks_in(mask, tuple(image.shape[1:3]), "mask")

    def request(frame_image, frame):
        mask = frame_mask(masks, frame)
        wanted = Fields(method="feedforward", models=[loaded], masks=[] if mask is None else [mask],
                        strength=strength, size=size, tile=tile, color=color, watermark=watermark)
        return build(frame_image, wanted, device=str(host.device()))

    return _run(image, request, temporal)


def neural_style(image, steps, size, strength, tv_weight, optimizer, init, seed, color, style_weights, style=None,
                 mask=None, regions=None, tile=0, watermark=True) -> torch.Tensor:
    """Neural Style (Gram optimisation), with previews every few steps."""
    plan = _plan(style, style_weights, mask, regions, tuple(image.shape[1:3]))
    vgg = host.gram_network()

    def request(frame_image, frame):
        settings = GatysSettings(tv_weight=tv_weight, optimizer=optimizer, init=init,
                                 preview_every=GRAM_PREVIEW_EVERY)
        wanted = plan.fields("gatys", frame, strength=strength, size=size, tile=tile, steps=steps, seed=seed,
                             color=color, watermark=watermark)
        return build(frame_image, wanted, plan.more_regions(frame), gatys=settings, loss_network=vgg,
                     device=str(host.device()))

    return _run(image, request)


def style_regions(style, mask, weight, regions=None) -> list[RegionInput]:
    """Style Regions: the chain so far with one more region."""
    return [*(regions or []), RegionInput(image_in(style, "style"), mask, weight)]


def color_match(image, reference, method, strength, mask=None, reference_mask=None) -> torch.Tensor:
    """Color Match: ``image`` recoloured after ``reference``, ``strength`` of the way."""
    pixels = image_in(image, "image")
    colours = image_in(reference, "reference")
    size = tuple(pixels.shape[-2:])
    if method == "luminance":
        colours = resize(colours, size)
    recoloured = transfer_color(
        pixels, colours, method, mask=masks_in(mask, size, "mask"),
        reference_mask=masks_in(reference_mask, tuple(colours.shape[-2:]), "reference mask"),
    )
    return image_out(torch.lerp(pixels, recoloured, strength), host.output_device())


def verify_watermark(image) -> tuple[str, bool]:
    """Verify Watermark: a line per image of the batch saying whether it carries brushwork's mark, and
    whether all do."""
    lines, marked = [], []
    for number, frame in enumerate(image_in(image, "image").numpy(), start=1):
        found = watermark.detect(watermark.luminance(frame))
        marked.append(found is not None)
        says = "no brushwork watermark" if found is None else f"brushwork watermark, {found.payload.describe()}"
        lines.append(f"image {number}: {says}")
    return "\n".join(lines), all(marked)
