"""The web studio at ``/`` in a real headless Chromium (Debian's ``chromium``, driven by Playwright)
against a real ``brushwork serve`` on 127.0.0.1: painting, regions, jobs, errors, usage,
accessibility (axe-core) and the first load's weight and time."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from plugin_core import provenance

from .host import unavailable
from .serving import EXAMPLES, Server, brushwork
from .studio_page import stroke
from .test_serve import UNLIMITED_RATE

sync_api = pytest.importorskip("playwright.sync_api")

VENDOR = Path(__file__).parent / "vendor"
SIZE = 128
MARKED_SIZE = 256
"""Large enough for the invisible mark to be read back."""
FIRST_LOAD_BYTES = 300_000
INTERACTIVE_MS = 1000
SECONDS = 120_000


def chromium_path() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    unavailable("Chromium is not installed (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data = tmp_path_factory.mktemp("studio")
    made = brushwork("serve", "--data", str(data), "keys", "add", "designer")
    assert made.returncode == 0, made.stderr
    with Server(data, *UNLIMITED_RATE) as server:
        yield server, made.stdout.strip()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, served):
    """The studio, loaded, with the key pasted; fails the test on any script error in the page."""
    server, key = served
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    opened = context.new_page()
    errors = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(server.url)
    opened.wait_for_selector("body[data-ready=true]")
    opened.fill("#key", key)
    opened.click("text=Use key")
    opened.wait_for_selector("#shipped button[data-model]")
    yield opened
    context.close()
    assert not errors, errors


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)


def result_bytes(page) -> bytes:
    """The result as the user downloads it."""
    with page.expect_download() as download:
        page.click("#download")
    return Path(download.value.path()).read_bytes()


def choose_photo(page, size: int = SIZE) -> None:
    page.set_input_files("#photo-file", str(EXAMPLES / "photo.jpg"))
    page.wait_for_selector("#canvas-wrap:not([hidden])")
    page.fill("#size", str(size))


def paint_and_wait(page) -> None:
    page.click("#paint")
    page.wait_for_selector("#download:not([hidden])", timeout=SECONDS)
    assert page.inner_text("#message") == ""


def photo_at(shape: tuple[int, int]) -> np.ndarray:
    photo = Image.open(EXAMPLES / "photo.jpg").convert("RGB").resize((shape[1], shape[0]), Image.BICUBIC)
    return np.asarray(photo, dtype=np.float32)


def test_a_shipped_style_paints_and_downloads_with_its_provenance(page):
    choose_photo(page, MARKED_SIZE)
    page.click("#shipped button[data-model=waves]")
    assert page.input_value("#method") == "feedforward"
    paint_and_wait(page)
    data = result_bytes(page)
    painted = pixels(data)
    assert max(painted.shape[:2]) == MARKED_SIZE
    assert np.abs(painted - photo_at(painted.shape[:2])).mean() > 10, "the result is the photo"
    found = provenance.inspect(io.BytesIO(data), "download", 10**8)
    assert found.mark is not None and found.parameters["method"] == "feedforward" and found.c2pa != "absent"


def test_two_regions_painted_with_the_brush_get_their_own_styles(page, served):
    server, key = served
    choose_photo(page)
    page.set_input_files("#style-files", [str(EXAMPLES / "painting.jpg"), str(EXAMPLES / "painting2.jpg")])
    page.wait_for_selector("#style-list li:nth-child(2)")
    page.fill("#brush-size", "60")
    page.dispatch_event("#brush-size", "input")
    for y in (0.2, 0.3):
        stroke(page, 0.05, 0.45, y)
    page.click("#style-list li:nth-child(2) button:text('Brush')")
    for y in (0.2, 0.3):
        stroke(page, 0.55, 0.95, y)
    paint_and_wait(page)
    regions = pixels(result_bytes(page))
    height, width = regions.shape[:2]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        alone = [pixels(client.post("/v1/stylize", data={"size": str(SIZE)}, files=[
            ("content", ("photo.jpg", (EXAMPLES / "photo.jpg").read_bytes())),
            ("style", (name, (EXAMPLES / name).read_bytes()))]).content) for name in ("painting.jpg", "painting2.jpg")]
    top = slice(int(0.2 * height), int(0.3 * height))
    left, right = slice(int(0.1 * width), int(0.4 * width)), slice(int(0.6 * width), int(0.9 * width))

    def distance(a, b, where):
        return float(np.abs(a[where] - b[where]).mean())

    assert distance(regions, alone[0], (top, left)) < distance(regions, alone[1], (top, left))
    assert distance(regions, alone[1], (top, right)) < distance(regions, alone[0], (top, right))
    bottom = slice(int(0.8 * height), height)
    assert distance(regions, photo_at((height, width)), (bottom, slice(None))) < 3, "unpainted ground changed"
    assert distance(regions, photo_at((height, width)), (top, left)) > 10


def test_a_gram_job_shows_progress_and_cancels(page):
    choose_photo(page, 256)
    page.set_input_files("#style-files", str(EXAMPLES / "painting.jpg"))
    page.select_option("#method", "gatys")
    page.fill("#steps", "2000")
    page.click("#paint")
    page.wait_for_selector("#cancel:not([hidden])", timeout=SECONDS)
    page.wait_for_function("() => document.getElementById('progress').value > 0", timeout=SECONDS)
    page.click("#cancel")
    page.wait_for_function("() => document.getElementById('message').textContent.includes('cancelled')",
                           timeout=SECONDS)
    assert page.is_hidden("#cancel") and page.is_enabled("#paint")


def test_bad_files_and_keys_say_one_line_and_the_page_keeps_its_state(page, tmp_path):
    choose_photo(page)
    photo_src = page.get_attribute("#photo", "src")
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    page.set_input_files("#photo-file", str(notes))
    page.wait_for_function("() => document.getElementById('message').textContent.includes('notes.png')")
    assert "not an image" in page.inner_text("#message") and page.get_attribute("#photo", "src") == photo_src
    page.set_input_files("#style-files", str(EXAMPLES / "painting.jpg"))
    page.fill("#key", "bw_not-a-key")
    page.click("text=Use key")
    page.click("#paint")
    page.wait_for_function("() => document.getElementById('message').textContent.includes('API key')")
    assert page.inner_text("#message").count("\n") == 0
    assert page.locator("#style-list li").count() == 1 and page.get_attribute("#photo", "src") == photo_src


def test_the_usage_chart_shows_the_calls_just_made(page):
    before = page.locator("#usage-chart rect[data-method=fast]").evaluate_all(
        "bars => bars.reduce((sum, bar) => sum + Number(bar.dataset.value), 0)")
    choose_photo(page)
    page.set_input_files("#style-files", str(EXAMPLES / "painting.jpg"))
    page.select_option("#method", "fast")
    paint_and_wait(page)
    page.wait_for_function(f"""() => [...document.querySelectorAll('#usage-chart rect[data-method=fast]')]
        .reduce((sum, bar) => sum + Number(bar.dataset.value), 0) === {before + 1}""")
    assert "fast" in page.inner_text("#usage-caption")
    assert "used" in page.inner_text("#quota")


def test_the_page_passes_axe_with_no_serious_violations(browser, served):
    server, _key = served
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")
    page.add_script_tag(path=str(VENDOR / "axe.min.js"))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    context.close()
    serious = [(v["id"], v["impact"], len(v["nodes"])) for v in results["violations"]
               if v["impact"] in ("serious", "critical")]
    assert not serious, json.dumps(serious)


def test_the_first_load_is_light_and_quick_and_strictly_fenced(browser, served):
    server, _key = served
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")
    timing = page.evaluate("""() => {
        const [nav] = performance.getEntriesByType('navigation');
        const files = performance.getEntriesByType('resource').filter(r => r.name.includes('/studio/'));
        return {bytes: nav.transferSize + files.reduce((sum, r) => sum + r.transferSize, 0),
                ready: nav.domContentLoadedEventEnd, files: files.length};
    }""")
    context.close()
    print(f"studio first load: {timing['bytes']} bytes in {timing['files'] + 1} files, "
          f"interactive after {timing['ready']:.0f} ms")
    assert timing["files"] >= 4 and timing["bytes"] < FIRST_LOAD_BYTES
    assert timing["ready"] < INTERACTIVE_MS
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
