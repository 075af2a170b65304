"""Driving the web studio in a browser page (Playwright), for its tests and scripts/studio_screenshot.py."""

from __future__ import annotations

STEPS = 10


def stroke(page, x0: float, x1: float, y: float) -> None:
    """A horizontal brush stroke across the photo, in fractions of its width and height."""
    box = page.locator("#regions").bounding_box()
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y * box["height"])
    page.mouse.down()
    for step in range(1, STEPS + 1):
        page.mouse.move(box["x"] + (x0 + (x1 - x0) * step / STEPS) * box["width"], box["y"] + y * box["height"])
    page.mouse.up()
