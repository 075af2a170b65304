"""Reading every Pillow mode, guarding against bad files, writing atomically with provenance."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from plugin_core.errors import ImageError, RequestError
from plugin_core.image import AI_SOURCE_TYPE, MIN_SIDE, load_image, save_image


def _gradient(width=64, height=48) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    return np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                     np.full((height, width), 100, np.float32)], -1).round().astype(np.uint8)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "CMYK", "1", "I", "F"])
def test_every_mode_reads_as_rgb_floats(tmp_path, mode):
    pil = Image.fromarray(_gradient()).convert(mode)
    path = tmp_path / f"image-{mode}.{'tif' if mode in ('I', 'F', 'CMYK') else 'png'}"
    pil.save(path)
    loaded = load_image(path)
    assert loaded.rgb.shape == (1, 3, 48, 64) and loaded.rgb.dtype == torch.float32
    assert 0 <= float(loaded.rgb.min()) and float(loaded.rgb.max()) <= 1
    assert (loaded.alpha is not None) == (mode in ("RGBA", "LA"))


def test_alpha_is_kept_apart(tmp_path):
    pixels = np.zeros((40, 40, 4), np.uint8)
    pixels[..., 0] = 200
    pixels[:, :20, 3] = 255
    Image.fromarray(pixels, "RGBA").save(tmp_path / "half.png")
    loaded = load_image(tmp_path / "half.png")
    assert torch.all(loaded.alpha[..., :20] == 1) and torch.all(loaded.alpha[..., 20:] == 0)
    assert torch.allclose(loaded.rgb[0, 0], torch.full((40, 40), 200 / 255))


def test_sixteen_bit_precision_survives(tmp_path):
    values = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16 + 3)
    Image.fromarray(values).save(tmp_path / "deep.png")
    loaded = load_image(tmp_path / "deep.png")
    assert loaded.bits == 16
    assert torch.allclose(loaded.rgb[0, 1], torch.from_numpy(values.astype(np.float32) / 65535), atol=1e-7)
    assert len(torch.unique(loaded.rgb[0, 0])) == 64 * 64  # far more than 256 levels


def test_exif_orientation_is_applied(tmp_path):
    pil = Image.fromarray(_gradient(64, 40))
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    pil.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_image(tmp_path / "rotated.jpg").rgb.shape == (1, 3, 64, 40)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"hello, I am a text file", "is not an image file Pillow can read"),
    ],
)
def test_unreadable_files_are_named(tmp_path, content, message):
    path = tmp_path / "photo.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=f"content {path} {message}"):
        load_image(path, "content")


def test_truncated_file_is_corrupt(tmp_path):
    Image.fromarray(_gradient()).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(tmp_path / "cut.png", "style")


def test_folder_and_tiny_images_are_refused(tmp_path):
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)
    Image.new("RGB", (MIN_SIDE - 1, 100)).save(tmp_path / "thin.png")
    with pytest.raises(ImageError, match=f"{MIN_SIDE - 1}x100 pixels; its smaller side must be at least {MIN_SIDE}"):
        load_image(tmp_path / "thin.png")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # a 1-bit PNG of 12000x12000 pixels is tiny on disk but 144 MP in memory
    Image.new("1", (12000, 12000)).save(tmp_path / "bomb.png")
    with pytest.raises(ImageError, match="too large to open safely"):
        load_image(tmp_path / "bomb.png")


def test_save_is_atomic_and_carries_provenance(tmp_path):
    rgb = torch.rand(1, 3, 40, 50)
    alpha = torch.ones(1, 1, 40, 50)
    path = save_image(tmp_path / "out.png", rgb, alpha, {"method": "gatys", "strength": 0.5})
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    pil = Image.open(path)
    assert pil.mode == "RGBA"
    assert pil.text["Software"].startswith("brushwork")
    assert "AI-generated" in pil.text
    assert json.loads(pil.text["brushwork"]) == {"method": "gatys", "strength": 0.5}
    assert AI_SOURCE_TYPE in pil.text["XML:com.adobe.xmp"]
    assert torch.allclose(load_image(path).rgb, rgb, atol=0.5 / 255 + 1e-6)


def test_jpeg_gets_xmp_and_drops_alpha_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="JPEG has no alpha"):
        save_image(tmp_path / "out.jpg", torch.rand(1, 3, 40, 50), torch.ones(1, 1, 40, 50), {"method": "gatys"})
    assert AI_SOURCE_TYPE.encode() in Image.open(tmp_path / "out.jpg").info["xmp"]


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", explode)
    with pytest.raises(OSError, match="disk full"):
        save_image(tmp_path / "out.png", torch.rand(1, 3, 40, 50))
    assert list(tmp_path.iterdir()) == []


def test_unknown_output_format_is_refused(tmp_path):
    with pytest.raises(RequestError, match="cannot write .*out.gif"):
        save_image(tmp_path / "out.gif", torch.rand(1, 3, 40, 50))
