"""Where an image came from, as far as brushwork can tell: its invisible mark in the pixels
(:mod:`plugin_core.watermark`), the metadata brushwork writes into its files
(:func:`plugin_core.image.encode_image`) and their C2PA content credentials
(:mod:`plugin_core.credentials`). ``brushwork verify``, ``POST /v1/verify`` and ComfyUI's
Verify node all ask :func:`inspect`.

The mark survives re-saving, resizing and cropping; the metadata and the credentials do not survive
most re-saves, screenshots or uploads, but the credentials show any change to a file they are in.
None is proof against a determined forger.
"""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from . import credentials, watermark
from .image import AI_SOURCE_TYPE, open_image

CREATOR = re.compile(rb"<xmp:CreatorTool>(brushwork [^<]*)</xmp:CreatorTool>")
DESCRIPTION = re.compile(rb"<dc:description><rdf:Alt><rdf:li[^>]*>(.*?)</rdf:li>", re.DOTALL)


@dataclass(frozen=True)
class Findings:
    """``mark``: the watermark found in the pixels (None: none); ``software``: brushwork's name and
    version from the file's metadata (None: no brushwork metadata); ``ai_generated``: the metadata
    declares a trained model made it; ``parameters``: what made it, when the file says;
    ``c2pa``: the state of its content credentials (a key of :data:`credentials.STATES`), signed by
    ``signer``."""

    mark: watermark.Detection | None
    software: str | None = None
    ai_generated: bool = False
    parameters: dict | None = None
    c2pa: str = "absent"
    signer: str | None = None

    def as_dict(self) -> dict:
        mark = None if self.mark is None else {
            "version": self.mark.payload.version_text, "serial": self.mark.payload.serial,
            "peak_z": round(self.mark.peak_z, 1), "relative_side": round(self.mark.relative_side, 3),
        }
        return {"watermark": mark, "metadata": None if self.software is None else {
            "software": self.software, "ai_generated": self.ai_generated, "parameters": self.parameters},
            "c2pa": {"state": self.c2pa, "meaning": credentials.STATES[self.c2pa], "signer": self.signer}}

    def summary(self) -> str:
        found = "no brushwork watermark"
        if self.mark is not None:
            found = f"brushwork watermark ({self.mark.payload.describe()})"
        metadata = "no brushwork metadata" if self.software is None else f"metadata: {self.software}"
        signed = f" ({self.signer})" if self.signer else ""
        return f"{found}; {metadata}; C2PA: {credentials.STATES[self.c2pa]}{signed}"


def grey_of(pil: Image.Image) -> np.ndarray:
    """The luminance ``[h, w]`` in 0..1 the mark is read from (alpha ignored)."""
    return watermark.luminance(np.asarray(pil.convert("RGB"), np.float32).transpose(2, 0, 1) / 255)


def _xmp(pil: Image.Image) -> bytes:
    """The file's XMP packet, wherever its format keeps it (empty: none)."""
    packet = pil.info.get("xmp") or pil.info.get("XML:com.adobe.xmp") or b""
    if not packet and hasattr(pil, "tag_v2"):
        packet = pil.tag_v2.get(700, b"")
    return packet.encode() if isinstance(packet, str) else bytes(packet)


def inspect(source: str | Path | BinaryIO, role: str = "image", max_pixels: int | None = None,
            trust: bytes | None = None) -> Findings:
    """What ``source`` (a path or an open file) says about brushwork; bad input raises
    :class:`plugin_core.errors.ImageError` naming ``role``. ``trust``: PEM certificates whose
    signatures count as trusted."""
    pil = open_image(source, role, max_pixels)
    mark = watermark.detect(grey_of(pil))
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else _all_of(source)
    c2pa, signer = credentials.read(data, Image.open(io.BytesIO(data)).format, trust)  # the file's own format
    xmp = _xmp(pil)
    creator = CREATOR.search(xmp)
    software = creator.group(1).decode() if creator else pil.info.get("Software")
    if not (software or "").startswith("brushwork"):
        return Findings(mark, c2pa=c2pa, signer=signer)
    ai_generated = AI_SOURCE_TYPE.encode() in xmp or "AI-generated" in pil.info
    description = DESCRIPTION.search(xmp)
    written = pil.info.get("brushwork") or (html.unescape(description.group(1).decode()) if description else None)
    return Findings(mark, software, ai_generated, _parameters(written), c2pa, signer)


def _all_of(stream: BinaryIO) -> bytes:
    stream.seek(0)
    return stream.read()


def _parameters(text: str | None) -> dict | None:
    try:
        parameters = json.loads(text) if text else None
    except ValueError:
        return None
    return parameters if isinstance(parameters, dict) else None
