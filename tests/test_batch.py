"""``brushwork batch``: a manifest on a local Ray (2 CPUs) with bad rows, the same images in-process,
and a run killed mid-way that resumes without redoing work or leaving partial files."""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork.cli import main
from plugin_core import provenance

from .conftest import EXAMPLES

GOOD = 6
STYLES = ("painting.jpg", "painting2.jpg")
BAD = {  # content, model: the error the results table records
    ("missing.jpg", ""): "does not exist",
    ("broken.jpg", ""): "broken.jpg",
    ("photo.jpg", "no-such-model"): "no-such-model",
}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with the photo, both paintings, a broken image and a 20-row manifest."""
    folder = tmp_path_factory.mktemp("batch")
    for name in ("photo.jpg", *STYLES):
        shutil.copy(EXAMPLES / name, folder / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    rows = [{"content": "photo.jpg", "output": f"shop/{index:02d}.png", "style": STYLES[index % 2], "model": "",
             "strength": 0.5 + index / 10} for index in range(GOOD)]
    rows += [{"content": content, "output": f"bad/{index}.png", "style": STYLES[0], "model": model, "strength": ""}
             for index, (content, model) in enumerate(BAD)]
    with open(folder / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def _run(work: Path, output: str, *extra: str) -> int:
    return main(["batch", str(work / "manifest.csv"), "-o", str(work / output), "--method", "fast",
                 "--size", "96", "-q", *extra])


def _results(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def on_ray(work) -> str:
    """The manifest painted on a local Ray (2 actors, batches of 4), once per module: its summary line."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert _run(work, "ray", "--engine", "ray", "--actors", "2", "--batch-size", "4") == 1
    return printed.getvalue()


def test_a_manifest_on_a_local_ray_records_the_bad_rows_and_goes_on(work, on_ray):
    assert f"{GOOD} done, 0 skipped, {len(BAD)} failed" in on_ray and "on ray" in on_ray
    results = _results(work / "ray" / "results.csv")
    assert [row["status"] for row in results] == ["done"] * GOOD + ["failed"] * len(BAD)
    for row, message in zip(results[GOOD:], BAD.values(), strict=True):
        assert message in row["error"], row
    assert sorted(p.name for p in (work / "ray" / "shop").iterdir()) == [f"{i:02d}.png" for i in range(GOOD)]
    assert not (work / "ray" / "bad").exists() or not any((work / "ray" / "bad").iterdir())


def test_in_process_paints_the_same_images(work, on_ray):
    assert _run(work, "local", "--engine", "local") == 1
    for index in range(GOOD):
        name = f"shop/{index:02d}.png"
        ours, ray = (np.asarray(Image.open(work / run / name), float) for run in ("local", "ray"))
        assert np.abs(ours - ray).mean() < 1.0, index  # thread counts differ: sums round apart
    first, second = (np.asarray(Image.open(work / "local" / "shop" / f"0{i}.png"), float) for i in (0, 1))
    assert np.abs(first - second).mean() > 5  # the two styles (and strengths) show


def test_a_killed_run_resumes_without_redoing_work_or_leaving_partial_files(tmp_path):
    frames = tmp_path / "frames"
    (frames / "b").mkdir(parents=True)
    for index in range(8):
        shutil.copy(EXAMPLES / "photo.jpg", frames / ("b" if index % 2 else ".") / f"{index}.jpg")
    command = [sys.executable, "-m", "brushwork.cli", "batch", str(frames), "-o", str(tmp_path / "out"),
               "--style", str(EXAMPLES / "painting.jpg"), "--size", "384", "--engine", "local", "--batch-size", "1",
               "-q"]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(list((tmp_path / "out").rglob("[0-9].png"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    finished = sorted((tmp_path / "out").rglob("[0-9].png"))
    assert 2 <= len(finished) < 8
    for path in finished:
        Image.open(path).load()  # complete files only
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"{8 - len(finished)} done, {len(finished)} skipped, 0 failed" in again.stdout
    assert all(provenance.inspect(path).mark is not None for path in finished)
    everything = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert everything == sorted([*(f"b/{i}.png" for i in (1, 3, 5, 7)), *(f"{i}.png" for i in (0, 2, 4, 6)),
                                 "results.csv"])


def test_a_manifest_without_content_is_refused(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("photo,style\na.jpg,b.jpg\n")
    assert main(["batch", str(tmp_path / "m.csv"), "-o", str(tmp_path / "out"), "--engine", "local"]) == 2
    assert "needs a content column" in capsys.readouterr().err


def test_a_parquet_manifest_and_results(tmp_path):
    import pyarrow
    import pyarrow.parquet

    shutil.copy(EXAMPLES / "photo.jpg", tmp_path / "photo.jpg")
    table = {"content": ["photo.jpg", "photo.jpg"], "output": ["a.png", "b.png"], "method": ["fast", "feedforward"],
             "model": [None, "waves"], "style": [str(EXAMPLES / "painting.jpg"), None], "size": [64, 80]}
    pyarrow.parquet.write_table(pyarrow.table(table), tmp_path / "work.parquet")
    assert main(["batch", str(tmp_path / "work.parquet"), "-o", str(tmp_path / "out"), "--engine", "local", "-q",
                 "--results", str(tmp_path / "out" / "results.parquet")]) == 0
    results = pyarrow.parquet.read_table(tmp_path / "out" / "results.parquet").to_pylist()
    assert [row["status"] for row in results] == ["done", "done"]
    assert Image.open(tmp_path / "out" / "a.png").size == (64, 32)
    assert Image.open(tmp_path / "out" / "b.png").size == (80, 40)


def test_watermark_off_leaves_the_mark_out(tmp_path):
    (tmp_path / "in").mkdir()
    shutil.copy(EXAMPLES / "photo.jpg", tmp_path / "in" / "photo.jpg")
    assert main(["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--method", "fast", "--style",
                 str(EXAMPLES / "painting.jpg"), "--size", "384", "--engine", "local", "--watermark", "off", "-q"]) == 0
    assert provenance.inspect(tmp_path / "out" / "photo.png").mark is None
