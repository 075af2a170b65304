"""Make ``docs/studio.png``: the web studio in Debian's Chromium after a two-region painting.

    python scripts/studio_screenshot.py [--chromium /usr/bin/chromium]

Starts ``brushwork serve`` on 127.0.0.1 with a new key in a temporary folder, paints the example
photo with the two example paintings, each in its own brushed region, and saves the page.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serving import EXAMPLES, Server, brushwork  # noqa: E402
from tests.studio_page import stroke  # noqa: E402

OUT = ROOT / "docs" / "studio.png"
VIEWPORT = {"width": 1280, "height": 900}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        key = brushwork("serve", "--data", folder, "keys", "add", "designer").stdout.strip()
        with Server(Path(folder), "--rate", "100000") as server:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(server.url)
            page.wait_for_selector("body[data-ready=true]")
            page.fill("#key", key)
            page.click("text=Use key")
            page.wait_for_selector("#shipped button[data-model] img[src^=blob]")
            page.set_input_files("#photo-file", str(EXAMPLES / "photo.jpg"))
            page.set_input_files("#style-files", [str(EXAMPLES / "painting.jpg"), str(EXAMPLES / "painting2.jpg")])
            page.wait_for_selector("#style-list li:nth-child(2)")
            for y in (0.15, 0.35):
                stroke(page, 0.02, 0.5, y)
            page.click("#style-list li:nth-child(2) button:text('Brush')")
            for y in (0.6, 0.85):
                stroke(page, 0.3, 0.98, y)
            page.click("#paint")
            page.wait_for_selector("#download:not([hidden])", timeout=300_000)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUT))
            browser.close()
    print(OUT)


if __name__ == "__main__":
    main()
