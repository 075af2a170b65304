"""Training on a tiny set on the CPU: losses fall, runs resume exactly, exports load and carry a full card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from plugin_core import api, registry
from plugin_core.errors import RequestError, WeightsError
from plugin_core.loaders import load_model
from plugin_core.networks.fast_arbitrary import FastArbitraryNet
from plugin_core.tensor_files import read_tensors
from plugin_core.training.arbitrary import AdaINTask, FastTask
from plugin_core.training.card import CARD_FIELDS, inherited_licence, weights_licence
from plugin_core.training.data import Augment, ImageSet, describe_images
from plugin_core.training.distill import FastDistillTask, FeedForwardDistillTask
from plugin_core.training.feedforward import FeedForwardTask
from plugin_core.training.loop import CHECKPOINT, LOSS_LOG, LOSS_PLOT, TrainSettings, train
from plugin_core.training.plot import plot_losses

from .conftest import EXAMPLES, example
from .weights import brushwork_decoder

TINY = {"batch": 2, "size": 64, "device": "cpu", "precision": "float32", "log_every": 5, "checkpoint_every": 10}
LEARNING_RATE = {"adain": 1e-4, "adain-classic": 1e-4, "adain-relu3_1": 1e-4, "adain-gram-augmented": 1e-4,
                 "fast": 1e-3, "feedforward": 1e-3, "fast-distilled": 1e-3, "fast-distilled-statistics": 1e-3,
                 "fast-distilled-gram-wide": 1e-3, "feedforward-distilled": 1e-3}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    """A content folder (the example photo) and a style folder (the two example paintings)."""
    root = tmp_path_factory.mktemp("data")
    (root / "photos").mkdir()
    (root / "paintings").mkdir()
    shutil.copy(EXAMPLES / "photo.jpg", root / "photos")
    for name in ("painting.jpg", "painting2.jpg"):
        shutil.copy(EXAMPLES / name, root / "paintings")
    (root / "manifest.csv").write_text(
        "file,kind,package,version,licence\nphotos/photo.jpg,photos,endless-sky-data,0.9.8,public-domain\n"
        "paintings/painting.jpg,paintings,wesnoth-1.16-data,1.16.9,GPL-2+\n"
    )
    return root / "photos", root / "paintings"


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """An AdaIN model with skips and random weights: a teacher for the plumbing of distillation."""
    return load_model(brushwork_decoder(tmp_path_factory.mktemp("teacher"), skips=True), "adain")


def make_task(family: str, folders, vgg, seed: int = 0, teacher=None):
    torch.manual_seed(seed)
    content = ImageSet.from_folder(folders[0], "content")
    painting = folders[1] / "painting.jpg"
    if family == "feedforward":
        return FeedForwardTask(content, painting, style_size=128, vgg=vgg)
    if family == "feedforward-distilled":
        return FeedForwardDistillTask(content, painting, teacher, vgg=vgg)
    styles = ImageSet.from_folder(folders[1], "style")
    if family == "fast-distilled-gram-wide":
        return FastDistillTask(content, styles, teacher, vgg=vgg, gram_weight=1e3, channels=(8, 24, 40))
    if family.startswith("fast-distilled"):
        return FastDistillTask(content, styles, teacher, vgg=vgg, statistics_weight=10 * family.endswith("statistics"))
    if family == "adain-classic":
        return AdaINTask(content, styles, vgg=vgg, decoder="classic")
    if family == "adain-relu3_1":
        return AdaINTask(content, styles, vgg=vgg, content_layers=("relu3_1", "relu4_1"))
    if family == "adain-gram-augmented":
        return AdaINTask(content, styles, vgg=vgg, gram_weight=1e3, augment=Augment(colour=1.0))
    return (AdaINTask if family == "adain" else FastTask)(content, styles, vgg=vgg)


def settings(family: str, steps: int, **changes) -> TrainSettings:
    return TrainSettings(steps=steps, learning_rate=LEARNING_RATE[family], **(TINY | changes))


def test_crops_are_reproducible_squares_in_range(folders):
    images = ImageSet.from_folder(folders[1], "style")
    first = images.crops(6, 48, torch.Generator().manual_seed(3))
    again = images.crops(6, 48, torch.Generator().manual_seed(3))
    other = images.crops(6, 48, torch.Generator().manual_seed(4))
    assert first.shape == (6, 3, 48, 48) and torch.equal(first, again) and not torch.equal(first, other)
    assert 0 <= float(first.min()) and float(first.max()) <= 1
    assert len({round(float(crop.mean()), 4) for crop in first}) > 1, "every crop came out alike"


def test_augmented_crops_are_reproducible_and_move_the_hue_not_the_light(folders):
    images = ImageSet.from_folder(folders[1], "style")
    plain = images.crops(8, 48, torch.Generator().manual_seed(5), augment=Augment(colour=0.0, flip=0.0))
    changed = images.crops(8, 48, torch.Generator().manual_seed(5), augment=Augment(colour=1.0, flip=0.0))
    again = images.crops(8, 48, torch.Generator().manual_seed(5), augment=Augment(colour=1.0, flip=0.0))
    assert torch.equal(changed, again) and 0 <= float(changed.min()) and float(changed.max()) <= 1
    # an augment draws as many numbers whatever it does: crop i is the same square of the same painting
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert float((changed - plain).abs().mean()) > 0.03
    assert float(((changed - plain) * luma).sum(1).mean((-2, -1)).abs().max()) < 0.05


def test_an_empty_folder_is_named(tmp_path):
    with pytest.raises(RequestError, match=f"content folder {tmp_path} holds no images"):
        ImageSet.from_folder(tmp_path, "content")
    with pytest.raises(RequestError, match="does not exist"):
        ImageSet.from_folder(tmp_path / "missing", "style")


def logged_totals(run: Path) -> list[float]:
    rows = (run / LOSS_LOG).read_text().splitlines()
    header = rows[0].split(",")
    return [float(row.split(",")[header.index("total")]) for row in rows[1:]]


@pytest.mark.parametrize("family", list(LEARNING_RATE))
def test_training_reduces_the_loss(family, folders, vgg, teacher, tmp_path):
    train(make_task(family, folders, vgg, teacher=teacher), settings(family, 30), tmp_path, family, "test", quiet=True)
    totals = logged_totals(tmp_path)
    assert len(totals) == 6
    assert totals[-1] < 0.7 * totals[0], f"{family} loss did not fall: {totals}"
    assert (tmp_path / LOSS_PLOT).stat().st_size > 1000


def test_a_bfloat16_cpu_step_lowers_the_loss(folders, vgg, tmp_path):
    """CPU mixed precision: the networks under bfloat16 autocast, losses in float32."""
    seen: list[torch.dtype] = []
    task = make_task("adain", folders, vgg)
    hook = task.network.conv1_1.register_forward_hook(lambda _m, _a, out: seen.append(out.dtype))
    train(task, settings("adain", 30, precision="bfloat16"), tmp_path, "bf16", "test", quiet=True)
    hook.remove()
    totals = logged_totals(tmp_path)
    assert set(seen) == {torch.bfloat16}
    assert totals[-1] < 0.7 * totals[0], f"bfloat16 loss did not fall: {totals}"


def test_a_new_run_starts_from_an_exported_model(folders, vgg, tmp_path):
    exported, _ = train(make_task("fast", folders, vgg), settings("fast", 20), tmp_path / "first", "first", "t",
                        quiet=True)
    first_losses: dict[str, list[float]] = {}
    for name, init in (("fresh", None), ("continued", exported)):
        train(make_task("fast", folders, vgg), settings("fast", 1, log_every=1, checkpoint_every=1),
              tmp_path / name, name, "t", quiet=True, init=init,
              on_step=lambda _step, losses, name=name: first_losses.setdefault(name, []).append(losses["total"]))
    trained_last = logged_totals(tmp_path / "first")[-1]
    assert first_losses["continued"][0] < 0.5 * first_losses["fresh"][0]
    assert first_losses["continued"][0] < 2 * trained_last


def test_a_wider_fast_run_starts_from_a_narrower_export_where_it_stood(folders, vgg, tmp_path):
    exported, _ = train(make_task("fast", folders, vgg), settings("fast", 20), tmp_path / "narrow", "narrow", "t",
                        quiet=True)
    first_losses: list[float] = []
    content, styles = ImageSet.from_folder(folders[0], "content"), ImageSet.from_folder(folders[1], "style")
    wide = FastTask(content, styles, vgg=vgg, channels=(16, 48, 96))
    path, _ = train(wide, settings("fast", 1, log_every=1, checkpoint_every=1), tmp_path / "wide", "wide", "t",
                    quiet=True, init=exported, on_step=lambda _step, losses: first_losses.append(losses["total"]))
    assert first_losses[0] < 2 * logged_totals(tmp_path / "narrow")[-1]
    assert load_model(path, "fast").network.channels == (16, 48, 96)


def test_a_run_continued_under_another_command_records_its_phases(folders, vgg, tmp_path):
    for steps, command in ((2, "first recipe"), (4, "first recipe"), (6, "second recipe")):
        path, _ = train(make_task("fast", folders, vgg), settings("fast", steps, log_every=1, checkpoint_every=1),
                        tmp_path, "phased", command, quiet=True)
    card = read_tensors(path)[1]
    assert json.loads(card["phases"]) == [{"from_step": 0, "command": "first recipe"},
                                          {"from_step": 4, "command": "second recipe"}]
    assert card["command"] == "second recipe" and card["steps"] == "6"


def test_a_run_started_from_an_export_carries_on_its_card(folders, vgg, tmp_path):
    """The continued model's card is the whole lineage, also after the continued run resumes."""
    first, _ = train(make_task("fast", folders, vgg), settings("fast", 3, log_every=1, checkpoint_every=1),
                     tmp_path / "first", "first", "first recipe", quiet=True)
    earlier = read_tensors(first)[1]
    for steps in (2, 4):
        path, _ = train(make_task("fast", folders, vgg), settings("fast", steps, log_every=1, checkpoint_every=1),
                        tmp_path / "second", "second", "second recipe", quiet=True, init=first)
    card, own = read_tensors(path)[1], json.loads(read_tensors(path)[1]["data"])
    assert card["steps"] == "7"
    assert json.loads(card["phases"]) == [{"from_step": 0, "command": "first recipe"},
                                          {"from_step": 3, "command": "second recipe"}]
    assert float(card["training_seconds"]) > float(earlier["training_seconds"])
    assert card["hardware"].endswith("(steps 3-7)") and "(steps 0-3); " in card["hardware"]
    inherited = inherited_licence(earlier["licence"])
    assert own["init"] == {"model": "first", "steps": 3, "licences": {inherited: 1}}
    assert f"init: {inherited} x1" in card["data_licence"]


UNDETERMINED = "undetermined: the training images' licences include GPL-2"


@pytest.mark.parametrize("card_licence, inherited", [
    ("GPL-3.0-or-later (share-alike training images; credit: see data)", "GPL-3+"),
    ("MIT (credit the training images' authors: see data)", "MIT"),
    (UNDETERMINED, UNDETERMINED),
])
def test_a_model_trained_from_another_inherits_its_licence(card_licence, inherited):
    assert inherited_licence(card_licence) == inherited
    assert weights_licence({"init": {"licences": {inherited: 1}}}).split(" ")[0] == card_licence.split(" ")[0]


def test_a_loss_taken_on_in_a_later_phase_is_plotted_from_where_it_starts(tmp_path):
    rows = [{"step": "10", "lr": "1e-3", "seconds": "1", "total": "5", "statistics": ""},
            {"step": "20", "lr": "1e-3", "seconds": "2", "total": "4", "statistics": "0.5"}]
    assert plot_losses(rows, tmp_path / "losses.png").stat().st_size > 1000


def test_init_from_another_family_is_refused(folders, vgg, tmp_path):
    exported, _ = train(make_task("fast", folders, vgg), settings("fast", 1, log_every=1, checkpoint_every=1),
                        tmp_path / "fast", "fast", "t", quiet=True)
    with pytest.raises(WeightsError, match=r"fast\.safetensors is not the kind of model this run trains \(adain\)"):
        train(make_task("adain", folders, vgg), settings("adain", 1, log_every=1, checkpoint_every=1),
              tmp_path / "adain", "adain", "t", quiet=True, init=exported)


def test_adain_content_layers_are_checked(folders, vgg):
    with pytest.raises(RequestError, match="AdaIN content layers must be among relu1_1, .*, not relu5_1"):
        AdaINTask(ImageSet.from_folder(folders[0], "c"), ImageSet.from_folder(folders[1], "s"), vgg=vgg,
                  content_layers=("relu5_1",))


def test_licences_can_be_left_out_of_the_training_set(folders):
    assert len(ImageSet.from_folder(folders[1], "style")) == 2
    assert [p.name for p in ImageSet.from_folder(folders[1], "style", ["GPL-2+"]).paths] == ["painting2.jpg"]


@pytest.mark.parametrize("licences, expected", [
    ({"public-domain": 3, "CC0-1.0": 1}, "MIT"),
    ({"public-domain": 3, "CC-BY-4.0": 1}, "MIT (credit"),
    ({"public-domain": 3, "GPL-2+": 2, "CC-BY-SA-4.0": 1}, "GPL-3.0-or-later"),
    ({"public-domain": 3, "CC-BY-SA-3.0": 1}, "undetermined: the training images' licences include CC-BY-SA-3.0"),
    ({"GPL-2+": 3, "LGPL-2.1+": 2, "GPL-3+ or CC-BY-SA-3.0": 1}, "GPL-3.0-or-later"),
    ({"GPL-2+": 3, "GPL-2": 1}, "undetermined: the training images' licences include GPL-2"),
])
def test_the_weights_licence_honours_the_training_images(licences, expected):
    assert weights_licence({"content": {"licences": licences}}).startswith(expected)


def test_a_resumed_run_takes_the_same_next_steps(folders, vgg, tmp_path):
    straight: dict[int, dict[str, float]] = {}
    task = make_task("fast", folders, vgg)
    train(task, settings("fast", 4, checkpoint_every=2, log_every=1), tmp_path / "straight", "a", "test", quiet=True,
          on_step=lambda step, losses: straight.__setitem__(step, losses))

    train(make_task("fast", folders, vgg), settings("fast", 2, checkpoint_every=2, log_every=1), tmp_path / "resumed",
          "b", "test", quiet=True)
    resumed: dict[int, dict[str, float]] = {}
    again = make_task("fast", folders, vgg, seed=99)
    train(again, settings("fast", 4, checkpoint_every=2, log_every=1), tmp_path / "resumed", "b", "test", quiet=True,
          on_step=lambda step, losses: resumed.__setitem__(step, losses))

    assert sorted(resumed) == [3, 4]
    assert resumed[3] == straight[3] and resumed[4] == straight[4]
    for key, value in task.network.state_dict().items():
        assert torch.equal(value, again.network.state_dict()[key]), key
    assert [row.split(",")[0] for row in (tmp_path / "resumed" / LOSS_LOG).read_text().splitlines()] == [
        "step", "1", "2", "3", "4"
    ]


def test_a_checkpoint_of_another_family_is_refused(folders, vgg, tmp_path):
    train(make_task("fast", folders, vgg), settings("fast", 1, checkpoint_every=1, log_every=1), tmp_path, "x", "t",
          quiet=True)
    assert (tmp_path / CHECKPOINT).is_file()
    with pytest.raises(RequestError, match="belongs to a fast run, not adain"):
        train(make_task("adain", folders, vgg), settings("adain", 2, checkpoint_every=1, log_every=1), tmp_path, "x",
              "t", quiet=True)


def test_the_export_loads_through_the_registry_with_a_complete_card(folders, vgg, tmp_path, monkeypatch):
    path, step = train(make_task("fast", folders, vgg), settings("fast", 10), tmp_path, "tiny-fast",
                       "brushwork train fast", quiet=True)
    assert step == 10
    assert path == tmp_path / "tiny-fast.safetensors"
    state, card = read_tensors(path)
    assert set(CARD_FIELDS) <= set(card) and all(card[field] not in ("", "{}", "null") for field in CARD_FIELDS)
    assert {tensor.dtype for tensor in state.values()} == {torch.float16}
    assert '"sources": ["endless-sky-data 0.9.8"]' in card["data"] and "public-domain x1" in card["data_licence"]
    assert "GPL-2+ x1" in card["data_licence"] and "not in the manifest x1" in card["data_licence"]
    markdown = (tmp_path / "tiny-fast.md").read_text()
    assert all(f"| {field} |" in markdown for field in CARD_FIELDS)

    monkeypatch.setenv(registry.ENVIRONMENT_VARIABLE, str(tmp_path))
    model = load_model("tiny-fast", "fast")
    assert isinstance(model.network, FastArbitraryNet) and model.paths == (path,)
    photo, painting = example("photo.jpg", 96), example("painting.jpg", 96)
    out = api.stylize(api.simple_request(photo, [painting], method="fast", model="tiny-fast", size=None))
    assert out.shape == photo.shape and torch.isfinite(out).all()


def test_a_card_names_folders_relative_to_where_training_ran(tmp_path, monkeypatch):
    (tmp_path / "data" / "paintings").mkdir(parents=True)
    shutil.copy(EXAMPLES / "photo.jpg", tmp_path / "data" / "paintings")
    (tmp_path / "data" / "manifest.csv").write_text("file,kind,package,version,licence\n"
                                                    "paintings/photo.jpg,paintings,p,1,CC0-1.0\n")
    monkeypatch.chdir(tmp_path)
    description = describe_images([Path("data/paintings/photo.jpg")])
    assert description["folder"] == "data/paintings" and description["manifest"] == "data/manifest.csv"
    assert description["licences"] == {"CC0-1.0": 1}


def test_describe_images_without_a_manifest_says_so(tmp_path):
    shutil.copy(EXAMPLES / "photo.jpg", tmp_path)
    description = describe_images([tmp_path / "photo.jpg"])
    assert description["images"] == 1 and "unknown: no manifest.csv" in description["licences"]


@pytest.mark.parametrize("changes, message", [
    ({"steps": 0}, "steps must be at least 1"),
    ({"checkpoint_every": 15, "log_every": 10}, "must be a multiple of log every"),
    ({"learning_rate": 0}, "learning rate must be > 0"),
    ({"max_grad_norm": 0}, "max grad norm must be > 0"),
])
def test_bad_settings_are_named(changes, message):
    with pytest.raises(RequestError, match=message):
        TrainSettings(**changes)


def test_a_gradient_norm_limit_shortens_a_long_gradient(folders, vgg, tmp_path):
    """The last step's gradient (left on the network) is cut to the limit, and the limit binds."""
    limit = 1e-3
    free, clipped = make_task("fast", folders, vgg), make_task("fast", folders, vgg)
    train(free, settings("fast", 1), tmp_path / "free", "x", "t", quiet=True)
    train(clipped, settings("fast", 1, max_grad_norm=limit), tmp_path / "clipped", "x", "t", quiet=True)
    norm = lambda task: float(torch.nn.utils.get_total_norm(p.grad for p in task.network.parameters()))  # noqa: E731
    assert norm(free) > 10 * limit
    assert norm(clipped) == pytest.approx(limit, rel=1e-3)


def test_a_time_limit_checkpoints_exports_and_stops(folders, vgg, tmp_path):
    path, step = train(make_task("fast", folders, vgg), settings("fast", 50), tmp_path, "x", "t", quiet=True,
                       stop_after_s=0)
    assert step == 1 and path.is_file()
    assert torch.load(tmp_path / CHECKPOINT, weights_only=True)["step"] == 1
