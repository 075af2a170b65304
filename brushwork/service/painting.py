"""An order (the form's fields and its uploads) -> a :class:`plugin_core.api.StyleRequest` -> image bytes.

Uploads are decoded from memory, never written under their own names; a model is named from the
models this server offers (never a path); a mask must be the content's size.
"""

from __future__ import annotations

import functools
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

import torch

from plugin_core import api, credentials, registry, watermark
from plugin_core.controls import tile_label
from plugin_core.errors import MaskError, RequestError, WeightsError
from plugin_core.image import LoadedImage, encode_image, header_size, load_image, reading_side, resize
from plugin_core.masks import load_mask
from plugin_core.requests import Fields, build

from .settings import Limits
from .store import Upload

THUMBNAIL_SIDE = 96
FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}
"""The methods ``POST /v1/stylize`` paints at once; Gram optimisation goes through jobs."""


@dataclass(frozen=True)
class Order:
    """What a client asked for: the form's fields (JSON-safe) and its uploaded files."""

    fields: dict
    uploads: list[Upload]

    def files(self, field: str) -> list[Upload]:
        return [upload for upload in self.uploads if upload.field == field]


@dataclass(frozen=True)
class Painted:
    data: bytes
    media_type: str
    megapixels: float
    seconds: float


def offered_models() -> dict[str, str | None]:
    """Model names this server paints with -> their family (None: a user's own weight file)."""
    manifest = registry.read_manifest()
    offered = {model.name: model.family for model in manifest.values() if registry.installed(model)}
    return offered | {path.stem: None for path in registry.other_files(manifest)}


def swatch(side: int) -> torch.Tensor:
    """What a style's thumbnail paints: a sky over hills with a sun, ``[1,3,side,side]`` (made in code)."""
    y, x = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
    sky = torch.stack([0.45 + 0.3 * y, 0.65 + 0.2 * y, 0.95 - 0.1 * y])
    hills = torch.stack([0.25 + 0.2 * x, 0.5 - 0.1 * y, 0.2 + 0.0 * y])
    ground = (y > 0.62 + 0.08 * torch.sin(7 * x)).float()
    sun = ((x - 0.72) ** 2 + (y - 0.28) ** 2 < 0.012).float()
    image = sky * (1 - ground) + hills * ground
    return (image * (1 - sun) + torch.tensor([1.0, 0.85, 0.4])[:, None, None] * sun)[None]


@functools.lru_cache(maxsize=32)
def thumbnail(name: str, device: str) -> bytes:
    """A feed-forward style's look, as a PNG: :func:`swatch` painted with it (unmarked, not billed)."""
    _model(name, "feedforward", offered_models())
    request = build(swatch(THUMBNAIL_SIDE), Fields(method="feedforward", models=[name], size=THUMBNAIL_SIDE,
                                                   watermark=False), device=device)
    buffer = io.BytesIO()
    encode_image(buffer, "PNG", api.stylize(request), None, {"model": name})
    return buffer.getvalue()


def file_name(upload: Upload) -> str:
    """The upload's own name without any folders a client put in it (shown, never used as a path)."""
    return PureWindowsPath(PurePosixPath(upload.filename).name).name


def _role(upload: Upload) -> str:
    return f"{upload.field} {file_name(upload)!r}"


def _model(name: str, method: str, offered: dict[str, str | None]) -> str:
    family = offered.get(name, "unknown")
    if family == "unknown" or family not in (None, method):
        choices = ", ".join(sorted(n for n, f in offered.items() if f in (None, method))) or "none installed"
        raise WeightsError(f"unknown {method} model {name!r}: this server offers {choices}")
    return name


def _models(order: Order) -> list[str]:
    """The order's models, each one this server offers for the method (a client never names a path)."""
    names = order.fields["model"]
    if names:
        offered = offered_models()
        for name in names:
            _model(name, order.fields["method"], offered)
    return names


def _image(upload: Upload, limits: Limits, longest: int | None) -> LoadedImage:
    return load_image(io.BytesIO(upload.data), _role(upload), max_pixels=limits.pixels, longest=longest)


def _sizes(order: Order, limits: Limits) -> dict[int, tuple[int, int] | None]:
    """Each upload's size from its header, once the order is within the request's budget: at most
    ``limits.styles`` styles, masks one or one per style, ``limits.request_megapixels`` in all."""
    styles, masks = order.files("style"), order.files("mask")
    if len(styles) > limits.styles:
        raise RequestError(f"{len(styles)} style images, more than this server's {limits.styles} per request")
    if len(masks) > max(1, len(styles) + len(order.fields["model"])):
        raise MaskError(f"{len(masks)} masks for {len(styles)} styles: give one mask, or one per style")
    sizes = {id(upload): header_size(io.BytesIO(upload.data)) for upload in order.uploads}
    pixels = sum(width * height for width, height in filter(None, sizes.values()))
    if pixels > limits.request_pixels:
        raise RequestError(f"the request's images hold {pixels / 1e6:.1f} megapixels, more than this server's "
                           f"{limits.request_megapixels:g} per request: send smaller images")
    return sizes


def decode(order: Order, limits: Limits) -> tuple[LoadedImage, Fields]:
    """The content and the fields the order paints, every upload checked, each image decoded no
    larger than it is used (:func:`plugin_core.image.reading_side`)."""
    sizes = _sizes(order, limits)
    (content_upload,) = order.files("content")
    fields = order.fields
    own = sizes[id(content_upload)]
    if not fields["size"] and own is not None and max(own) > limits.size:
        raise RequestError(f"content is {own[0]}x{own[1]} and size 0 keeps that, above this server's limit of "
                           f"{limits.size} pixels: send a size")
    content = _image(content_upload, limits, reading_side(fields["size"]))
    longest = reading_side(fields["size"] or max(content.rgb.shape[-2:]))
    masks = []
    for upload in order.files("mask"):
        shape = sizes[id(upload)]
        if shape is not None and own is not None and shape != own:
            raise MaskError(f"{_role(upload)} is {shape[0]}x{shape[1]}, the content {own[0]}x{own[1]}: "
                            "a mask must be the content's size")
        masks.append(load_mask(io.BytesIO(upload.data), None, _role(upload), limits.pixels, longest))
    wanted = Fields(
        method=fields["method"], styles=[_image(upload, limits, longest).rgb for upload in order.files("style")],
        models=_models(order), style_weights=fields["style_weight"], masks=masks, strength=fields["strength"],
        size=fields["size"], tile=fields["tile"], color=fields["color"], color_when=fields["color_when"],
        steps=fields["steps"], seed=fields["seed"],
    )
    return content, wanted


def provenance(order: Order) -> dict:
    """What made the picture, stored in the file (names only, as the client gave them)."""
    fields = dict(order.fields)
    names = {field: [file_name(u) for u in order.files(field)] for field in ("content", "style", "mask")}
    return fields | {"content": names["content"][0], "styles": names["style"], "masks": names["mask"],
                     "tile": tile_label(fields["tile"]), "watermark": True}


def style_request(
    order: Order, limits: Limits, device: str, progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None, serial: int = 0,
) -> tuple[api.StyleRequest, LoadedImage]:
    """The core's request for ``order`` (and the decoded content), every field and upload checked;
    ``progress`` hears the fraction done, ``cancel`` may stop a long run; the result is always
    marked, with ``serial`` in the mark."""
    content, wanted = decode(order, limits)
    report = None if progress is None else (lambda p: progress(p.fraction))
    request = build(content.rgb, wanted, device=device, progress=report, cancel=cancel, within_memory_plan=True,
                    watermark_serial=serial)
    api.check(request)
    return request, content


def megapixels(request: api.StyleRequest) -> float:
    """The size of ``request``'s result: what a call is billed and counted against quotas by."""
    height, width = api.working_size(request)
    return request.content.shape[0] * height * width / 1e6


def paint(
    order: Order, limits: Limits, device: str, progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None, serial: int = 0, signer: credentials.Signer | None = None,
    reserve: Callable[[float], None] | None = None,
) -> Painted:
    """Paint ``order`` (:func:`style_request`) and encode it in the asked format, with content
    credentials signed by ``signer`` (None: none). ``reserve`` hears the result's megapixels once
    the order is checked, before anything is painted, and may refuse it by raising."""
    start = time.perf_counter()
    request, content = style_request(order, limits, device, progress, cancel, serial)
    if reserve is not None:
        reserve(megapixels(request))
    result = api.stylize(request)
    pil_format, media_type = FORMATS[order.fields["format"]]
    alpha = None if content.alpha is None or pil_format == "JPEG" else resize(content.alpha, result.shape[-2:])
    buffer = io.BytesIO()
    signing = None if signer is None else credentials.Signing(signer, watermark.brushwork_payload(serial))
    encode_image(buffer, pil_format, result, alpha, provenance(order), signing)
    painted = result.shape[0] * result.shape[-2] * result.shape[-1] / 1e6
    return Painted(buffer.getvalue(), media_type, painted, time.perf_counter() - start)
