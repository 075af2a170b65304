"""Images in and out: Pillow files <-> float tensors ``[1,C,H,W]`` in 0..1.

Reading accepts every mode Pillow reads (RGB, RGBA, L, LA, P, I;16, I, F, CMYK, ...), applies the
EXIF orientation, keeps alpha apart and keeps 16-bit precision (it goes straight to float).
Writing is atomic (a temporary file renamed into place) and stamps provenance metadata.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from . import __version__, credentials
from .errors import ImageError, RequestError
from .files import SAVE_FORMATS, atomic_path

MIN_SIDE = 32
"""The smallest side the VGG encoder can usefully take (four 2x poolings leave 2 pixels)."""
READ_MARGIN = 4
"""An image is decoded at no less than this many times the long side it is used at (:func:`reading_side`):
below that, reading it whole costs little, and every door paints it the same whether it read a file or
was handed pixels."""
EXIF_ORIENTATION = 0x0112
TURNED_ORIENTATIONS = (5, 6, 7, 8)
"""EXIF orientations that swap width and height."""
MAX_PIXELS = Image.MAX_IMAGE_PIXELS
"""Decompression-bomb guard: files with more pixels than this are refused before decoding."""
HIGH_PRECISION_MODES = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": 65535, "F": 1}
"""Modes read straight to float, with the value that maps to 1.0."""
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
"""IPTC digital source type for an edit of a photo made with a trained model."""


@dataclass(frozen=True)
class LoadedImage:
    """An image as tensors: ``rgb`` ``[1,3,H,W]``, ``alpha`` ``[1,1,H,W]`` or None, both float 0..1."""

    rgb: torch.Tensor
    alpha: torch.Tensor | None
    bits: int


def open_image(
    source: str | Path | BinaryIO, role: str = "image", max_pixels: int | None = None, longest: int | None = None,
) -> Image.Image:
    """Open and fully decode ``source`` (a path, or an open binary file such as an upload), EXIF-rotated,
    or raise :class:`ImageError` naming ``role``. ``max_pixels`` refuses larger images before decoding;
    ``longest`` decodes a larger one straight to about that long side (:func:`_decode_reduced`)."""
    label = describe(source, role)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            pil = Image.open(source)
            if max_pixels is not None and pil.width * pil.height > max_pixels:
                raise ImageError(f"{label} is {pil.width}x{pil.height} pixels, more than the "
                                 f"{max_pixels / 1e6:g} megapixels allowed")
            pil = _decode_reduced(pil, longest)
    except FileNotFoundError:
        raise ImageError(f"{label} does not exist") from None
    except IsADirectoryError:
        raise ImageError(f"{label} is a folder, not an image file") from None
    except PermissionError:
        raise ImageError(f"{label} cannot be read (permission denied)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{label} is too large to open safely ({exc}); downscale it first") from None
    except UnidentifiedImageError:
        kind = "empty" if _is_empty(source) else "not an image file Pillow can read"
        raise ImageError(f"{label} is {kind}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{label} is corrupt or truncated ({exc})") from None
    if pil.width == 0 or pil.height == 0:
        raise ImageError(f"{label} is empty (0 pixels)")
    return ImageOps.exif_transpose(pil)


def _decode_reduced(pil: Image.Image, longest: int | None) -> Image.Image:
    """Decode ``pil``; one at least twice ``longest`` on its long side comes out reduced by a whole
    factor (:func:`_reduction`; JPEG decodes at 1/2, 1/4 or 1/8 scale, others are box-reduced after
    decoding), so its float copy stays small. Modes Pillow cannot reduce stay whole."""
    factor = _reduction(pil.size, longest)
    if factor < 2:
        pil.load()
        return pil
    pil.draft(pil.mode, (-(-pil.width // factor), -(-pil.height // factor)))
    pil.load()
    factor = _reduction(pil.size, longest)
    try:
        return pil.reduce(factor) if factor >= 2 else pil
    except ValueError:
        return pil


def header_size(source: BinaryIO) -> tuple[int, int] | None:
    """``(width, height)`` as shown (EXIF-rotated), read from ``source``'s header without decoding it;
    None when it has no header Pillow reads (decoding it then says what is wrong)."""
    try:
        with Image.open(source) as pil:
            width, height = pil.size
            turned = pil.getexif().get(EXIF_ORIENTATION) in TURNED_ORIENTATIONS
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    finally:
        source.seek(0)
    return (height, width) if turned else (width, height)


def _reduction(size: tuple[int, int], longest: int | None) -> int:
    """The whole factor that brings ``size``'s long side to no less than ``longest`` and its short
    side to no less than :data:`MIN_SIDE` (0: none asked)."""
    return 0 if longest is None else min(max(size) // longest, min(size) // MIN_SIDE)


def reading_side(size: int | None) -> int | None:
    """The long side an image used at ``size`` (a content's working long side) is decoded at, at
    least: :data:`READ_MARGIN` times that, so what is resized afterwards keeps its detail; None: whole."""
    return None if not size else READ_MARGIN * size


def describe(source: str | Path | BinaryIO, role: str) -> str:
    """``role path`` for a file, ``role`` for an open one (whose caller names it in ``role``)."""
    return role if hasattr(source, "read") else f"{role} {source}"


def _is_empty(source: str | Path | BinaryIO) -> bool:
    if hasattr(source, "seek"):
        return source.seek(0, io.SEEK_END) == 0
    return Path(source).stat().st_size == 0


def pil_to_tensors(pil: Image.Image) -> LoadedImage:
    """Convert a decoded Pillow image to float RGB and optional alpha."""
    if pil.mode in HIGH_PRECISION_MODES:
        grey = torch.from_numpy(np.asarray(pil).astype(np.float32) / HIGH_PRECISION_MODES[pil.mode])
        grey = grey.clamp(0, 1).view(1, 1, pil.height, pil.width)
        return LoadedImage(grey.expand(1, 3, -1, -1).contiguous(), None, 16)
    has_alpha = pil.mode in ALPHA_MODES or "transparency" in pil.info
    pixels = np.array(pil.convert("RGBA" if has_alpha else "RGB"))
    tensor = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).float().div_(255)
    if has_alpha:
        return LoadedImage(tensor[:, :3].contiguous(), tensor[:, 3:].contiguous(), 8)
    return LoadedImage(tensor, None, 8)


def load_image(
    source: str | Path | BinaryIO, role: str = "image", min_side: int = MIN_SIDE, max_pixels: int | None = None,
    longest: int | None = None,
) -> LoadedImage:
    """Read an image for ``role`` ("content", "style"...), refusing ones smaller than ``min_side``
    (or with more than ``max_pixels``); ``longest``: see :func:`open_image`."""
    loaded = pil_to_tensors(open_image(source, role, max_pixels, longest))
    check_size(loaded.rgb, describe(source, role), min_side)
    return loaded


def check_size(image: torch.Tensor, label: str, min_side: int = MIN_SIDE) -> None:
    height, width = image.shape[-2:]
    if min(height, width) < min_side:
        raise ImageError(f"{label} is {width}x{height} pixels; its smaller side must be at least {min_side}")


def fit_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    """``(H, W)`` scaled so the longer side is ``long_side``, aspect ratio kept."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize to ``(H, W)`` with antialiasing when shrinking."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def style_working_size(
    style: tuple[int, int], content: tuple[int, int], long_side: int | None, min_side: int
) -> tuple[int, int]:
    """Where a style image is read: at ``long_side`` when given, else at the content's pixel count.

    Neither side drops below ``min_side``.
    """
    h, w = style
    if long_side is not None:
        h, w = fit_long_side(h, w, max(min_side, long_side))
        return max(min_side, h), max(min_side, w)
    scale = (content[0] * content[1] / (h * w)) ** 0.5
    return max(min_side, round(h * scale)), max(min_side, round(w * scale))


def pad_to_multiple(image: torch.Tensor, multiple: int, mode: str = "reflect") -> torch.Tensor:
    """Pad the bottom and right edges so both sides are multiples of ``multiple``; crop back with
    ``[..., :H, :W]``."""
    h, w = image.shape[-2:]
    bottom, right = -h % multiple, -w % multiple
    if not bottom and not right:
        return image
    return F.pad(image, (0, right, 0, bottom), mode=mode)


def with_margin(image: torch.Tensor, margin: int, multiple: int, mode: str = "reflect") -> tuple[torch.Tensor, int]:
    """``(framed, m)``: ``image`` with ``m`` pixels reflected around it (``margin``, or less for a tiny
    image) and its sides then padded to multiples of ``multiple``; crop a result back with
    ``[..., m : m + H, m : m + W]``. What a network does at an image's borders falls in the margin."""
    margin = min(margin, image.shape[-2] - 1, image.shape[-1] - 1)
    return pad_to_multiple(F.pad(image, (margin,) * 4, mode=mode), multiple, mode=mode), margin


def tensor_to_pil(rgb: torch.Tensor, alpha: torch.Tensor | None = None) -> Image.Image:
    """``[1,3,H,W]`` (+ ``[1,1,H,W]``) floats -> 8-bit RGB(A) Pillow image."""
    planes = rgb if alpha is None else torch.cat([rgb, alpha.to(rgb)], dim=1)
    pixels = planes[0].detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(np.ascontiguousarray(pixels), "RGB" if alpha is None else "RGBA")


def _xmp(parameters: dict) -> bytes:
    """An XMP packet: creator tool, the parameters, and the IPTC 'made with a trained model' mark."""
    description = json.dumps(parameters, sort_keys=True).replace("&", "&amp;").replace("<", "&lt;")
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f"<xmp:CreatorTool>brushwork {__version__}</xmp:CreatorTool>"
        f"<Iptc4xmpExt:DigitalSourceType>{AI_SOURCE_TYPE}</Iptc4xmpExt:DigitalSourceType>"
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{description}</rdf:li></rdf:Alt></dc:description>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def encode_image(
    target: str | Path | BinaryIO, fmt: str, rgb: torch.Tensor, alpha: torch.Tensor | None = None,
    parameters: dict | None = None, signing: credentials.Signing | None = None,
) -> None:
    """Write ``rgb`` (+ ``alpha``) in Pillow format ``fmt`` (a ``SAVE_FORMATS`` value) to ``target``
    with provenance metadata: PNG gets text chunks (``Software``, ``brushwork``, ``AI-generated``)
    and XMP; JPEG, WebP and TIFF get XMP; with ``signing``, C2PA content credentials too
    (:mod:`plugin_core.credentials`). JPEG drops alpha with a warning."""
    if alpha is not None and fmt == "JPEG":
        warnings.warn(f"{describe(target, 'output')}: JPEG has no alpha channel; transparency dropped", stacklevel=2)
        alpha = None
    parameters = dict(parameters or {})
    pil = tensor_to_pil(rgb, alpha)
    xmp = _xmp(parameters)
    options: dict = {}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", f"brushwork {__version__}")
        info.add_text("AI-generated", f"yes: neural style transfer ({AI_SOURCE_TYPE})")
        info.add_itxt("brushwork", json.dumps(parameters, sort_keys=True))
        info.add_itxt("XML:com.adobe.xmp", xmp.decode())
        options["pnginfo"] = info
    elif fmt == "TIFF":
        options["tiffinfo"] = {700: xmp, 305: f"brushwork {__version__}"}
    else:
        options["xmp"] = xmp
        options["quality"] = 95
    if signing is None:
        pil.save(target, format=fmt, **options)
        return
    encoded = io.BytesIO()
    pil.save(encoded, format=fmt, **options)
    title = Path(target).name if isinstance(target, (str, Path)) else f"image.{fmt.lower()}"
    signed = credentials.sign(encoded.getvalue(), fmt, signing.signer, title, parameters, signing.mark)
    if isinstance(target, (str, Path)):
        Path(target).write_bytes(signed)
    else:
        target.write(signed)


def save_image(
    path: str | Path, rgb: torch.Tensor, alpha: torch.Tensor | None = None, parameters: dict | None = None,
    signing: credentials.Signing | None = None,
) -> Path:
    """Write atomically (temporary file in the same folder, then rename) with provenance metadata
    (:func:`encode_image`); the format follows the file's ending."""
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RequestError(f"cannot write {path}: use one of {', '.join(sorted(SAVE_FORMATS))}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise RequestError(f"cannot write {path}: folder {folder} does not exist")
    with atomic_path(path) as temporary:
        encode_image(temporary, fmt, rgb, alpha, parameters, signing)
    return path
