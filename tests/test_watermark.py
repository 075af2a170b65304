"""brushwork's invisible mark: what it says, that it survives the usual edits on a shipped model's
output, that it stays out of images nobody marked, and that it barely changes the picture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import brushwork
from plugin_core import api, provenance, watermark
from plugin_core.errors import RequestError
from plugin_core.image import load_image
from plugin_core.regions import Region, Style

from .conftest import EXAMPLES
from .edits import EDITS

MIN_PSNR_DB = 40


def pixels(image: torch.Tensor) -> np.ndarray:
    """``[1,3,H,W]`` 0..1 -> ``[H, W, 3]`` uint8, as a file keeps it."""
    return image[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def grey(rgb: np.ndarray) -> np.ndarray:
    return watermark.luminance(rgb.transpose(2, 0, 1).astype(np.float32) / 255)


def read(rgb: np.ndarray) -> watermark.Payload | None:
    found = watermark.detect(grey(rgb))
    return None if found is None else found.payload


@pytest.fixture(scope="module")
def painted():
    """brushwork-adain's painting of the example photo at 512 px, without and with the mark."""
    photo, style = load_image(EXAMPLES / "photo.jpg").rgb, load_image(EXAMPLES / "painting.jpg").rgb
    plain = api.stylize(api.StyleRequest(photo, [Region([Style(style)])], watermark=False, device="cpu"))
    return plain, api.marked(plain)


@pytest.mark.parametrize("edit", EDITS)
def test_the_mark_survives_the_edit(painted, edit):
    _, marked = painted
    assert read(EDITS[edit](pixels(marked))) == watermark.brushwork_payload()


def test_the_mark_is_faint(painted):
    plain, marked = painted
    error = np.mean((pixels(marked).astype(float) - pixels(plain)) ** 2)
    assert 10 * np.log10(255**2 / error) >= MIN_PSNR_DB


@pytest.mark.parametrize("name", ["photo.jpg", "painting.jpg", "painting2.jpg"])
def test_unmarked_images_are_not_detected(name):
    assert read(np.asarray(Image.open(EXAMPLES / name).convert("RGB"))) is None


def test_an_output_painted_without_the_mark_is_not_detected(painted):
    plain, _ = painted
    assert read(pixels(plain)) is None


def test_the_serial_travels_in_the_mark(painted):
    plain, _ = painted
    assert read(EDITS["JPEG 70"](pixels(api.marked(plain, serial=51234)))) == watermark.brushwork_payload(51234)


def test_the_payload_decodes_through_noise():
    """Maximum-likelihood decoding reads both words back from soft bits of which about one in ten has
    the wrong sign, scattered: more than a hard-decision code of this length corrects."""
    payload = watermark.Payload((3, 9), 777)
    for seed in range(10):
        noisy = payload.code() + np.random.default_rng(seed).normal(0, 0.8, payload.code().shape)
        assert np.sum(np.sign(noisy) != payload.code()) >= 4
        assert watermark.Payload.decode(noisy) == payload


def test_a_payload_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match="serial 65536"):
        watermark.Payload((0, 1), 2**16).code()
    with pytest.raises(ValueError, match="version 16.0"):
        watermark.Payload((16, 0)).code()


def test_the_request_checks_the_serial(photo, painting):
    request = api.StyleRequest(photo, [Region([Style(painting)])], watermark_serial=-1, device="cpu")
    with pytest.raises(RequestError, match="serial must be between 0 and 65535"):
        api.stylize(request)


def test_the_python_door_marks_its_pictures():
    picture = brushwork.stylize(EXAMPLES / "photo.jpg", style=EXAMPLES / "painting.jpg", method="fast")
    assert watermark.detect(provenance.grey_of(picture)).payload == watermark.brushwork_payload()
    plain = brushwork.stylize(EXAMPLES / "photo.jpg", style=EXAMPLES / "painting.jpg", method="fast", watermark=False)
    assert watermark.detect(provenance.grey_of(plain)) is None
