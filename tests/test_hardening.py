"""What an attack probe of the service found, fixed: large images are decoded no larger than they
are used, a request's images have a budget, and every door reads large styles within it."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugin_core.image import header_size, load_image, open_image

from .serving import EXAMPLES, ROOT, Server, image_bytes
from .test_serve import UNLIMITED_RATE

HUGE_SIDE = 6000
"""36 megapixels: about 430 MB as float32 RGB, about 100 kB as a flat PNG."""
BUDGET_MB = 300
"""What reading a 36-megapixel style may add to a process's peak memory (it used to add over 1 GB)."""


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (HUGE_SIDE, HUGE_SIDE), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(width: int, height: int, orientation: int | None = None) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    pixels = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_a_large_image_is_decoded_reduced_to_no_less_than_its_use(kind):
    if kind == "jpeg":
        data = jpeg(4000, 3000)
    else:
        buffer = io.BytesIO()
        Image.new("RGBA", (4000, 3000), (10, 20, 30, 128)).save(buffer, "PNG")
        data = buffer.getvalue()
    image = open_image(io.BytesIO(data), "style", longest=500)
    assert 500 <= max(image.size) < 1000 and image.size[0] * 3 == image.size[1] * 4
    assert load_image(io.BytesIO(data), "style", longest=3000).rgb.shape[-1] == 4000, "reduced by less than 2"
    assert load_image(io.BytesIO(data), "style").rgb.shape[-2:] == (3000, 4000)


def test_a_reduced_image_keeps_its_colours_and_orientation():
    data = jpeg(1200, 800, orientation=6)
    assert header_size(io.BytesIO(data)) == (800, 1200)
    whole, reduced = load_image(io.BytesIO(data), "style"), load_image(io.BytesIO(data), "style", longest=200)
    assert whole.rgb.shape[-2:] == (1200, 800) and reduced.rgb.shape[-2] > reduced.rgb.shape[-1]
    assert abs(whole.rgb.mean() - reduced.rgb.mean()) < 0.01
    assert header_size(io.BytesIO(b"not an image")) is None


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_the_server_decodes_large_styles_small_and_refuses_a_request_over_its_budget(tmp_path, huge_png):
    photo = image_bytes("photo.jpg", 96)
    with Server(tmp_path, *UNLIMITED_RATE) as server, server.client() as client:
        def send(styles: int):
            return client.post("/v1/stylize", data={"size": "64", "method": "fast"}, files=[
                ("content", ("photo.png", photo)), *[("style", (f"huge{n}.png", huge_png)) for n in range(styles)]])

        small = client.post("/v1/stylize", data={"size": "64", "method": "fast"}, files=[
            ("content", ("photo.png", photo)), ("style", ("small.jpg", image_bytes("painting.jpg", 64, "JPEG")))])
        assert small.status_code == 200
        before = peak_mb(server.process.pid)
        assert send(2).status_code == 200
        grown = peak_mb(server.process.pid) - before
        over = send(3)
        assert over.status_code == 400 and "megapixels" in over.json()["error"]["message"]
        many = client.post("/v1/stylize", data={"size": "64", "method": "fast"}, files=[
            ("content", ("photo.png", photo)),
            *[("style", (f"s{n}.jpg", image_bytes("painting.jpg", 64, "JPEG"))) for n in range(9)]])
        assert many.status_code == 400 and "9 style images" in many.json()["error"]["message"]
        assert peak_mb(server.process.pid) - before == pytest.approx(grown, abs=1)
    print(f"two 36-megapixel styles raised the server's peak by {grown:.0f} MB")
    assert grown < BUDGET_MB


PEAK_OF = """
import resource, runpy, sys
sys.argv = ["brushwork", *sys.argv[1:]]
try:
    runpy.run_module("brushwork.cli", run_name="__main__")
finally:
    print("peak-kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def cli_peak_mb(*args: str) -> float:
    done = subprocess.run([sys.executable, "-c", PEAK_OF, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return int(done.stderr.rsplit("peak-kb", 1)[1].split()[0]) / 1024


def test_the_command_line_reads_a_large_style_within_the_budget(tmp_path, huge_png):
    (tmp_path / "huge.png").write_bytes(huge_png)
    common = ("stylize", str(EXAMPLES / "photo.jpg"), "--method", "fast", "--size", "64", "--watermark", "off",
              "--c2pa", "off")
    small = cli_peak_mb(*common, "--style", str(EXAMPLES / "painting.jpg"), "-o", str(tmp_path / "small.png"))
    large = cli_peak_mb(*common, "--style", str(tmp_path / "huge.png"), "-o", str(tmp_path / "large.png"))
    print(f"command line peak: {small:.0f} MB with a small style, {large:.0f} MB with a 36-megapixel one")
    assert large - small < BUDGET_MB


def test_a_thin_image_and_overflowing_weights_are_a_400_naming_them(tmp_path):
    thin = io.BytesIO()
    Image.new("RGB", (20000, 32), (90, 120, 150)).save(thin, "PNG")
    painting = image_bytes("painting.jpg", 64, "JPEG")
    with Server(tmp_path, *UNLIMITED_RATE) as server, server.client() as client:
        answer = client.post("/v1/stylize", data={"size": "512"}, files=[
            ("content", ("thin.png", thin.getvalue())), ("style", ("painting.jpg", painting))])
        assert answer.status_code == 400, answer.text
        assert "512x1" in answer.json()["error"]["message"] and "at least 32" in answer.json()["error"]["message"]
        job = client.post("/v1/jobs", data={"size": "512", "method": "gatys"}, files=[
            ("content", ("thin.png", thin.getvalue())), ("style", ("painting.jpg", painting))])
        assert job.status_code == 400, job.text
        huge = client.post("/v1/stylize", data={"size": "64", "style_weight": ["1e308", "1e308"]}, files=[
            ("content", ("photo.png", image_bytes("photo.jpg", 96))), ("style", ("a.jpg", painting)),
            ("style", ("b.jpg", painting))])
        assert huge.status_code == 400 and "finite" in huge.json()["error"]["message"], huge.text
