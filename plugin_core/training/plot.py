"""The loss curves of a run as a PNG, drawn with Pillow: one line per loss, log-scaled."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

from ..files import atomic_path

WIDTH, HEIGHT, MARGIN = 800, 480, 60
COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75))
NOT_LOSSES = ("step", "lr", "seconds")


def plot_losses(rows: list[dict[str, object]], path: Path, title: str = "") -> Path:
    """Draw each loss column of ``rows`` (the loss log) against the step, log10 y axis. A loss a run
    took on in a later phase is drawn from where it starts (earlier rows leave it empty)."""
    names = sorted({key for row in rows for key in row} - set(NOT_LOSSES))
    steps = [float(row["step"]) for row in rows]
    series = {
        name: [(float(row["step"]), math.log10(max(float(row[name]), 1e-12))) for row in rows
               if row.get(name) not in (None, "")]
        for name in names
    }
    low = min(value for points in series.values() for _, value in points)
    high = max(value for points in series.values() for _, value in points)
    high = high if high > low else low + 1
    first, last = min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    box = (MARGIN, MARGIN // 2, WIDTH - MARGIN // 2, HEIGHT - MARGIN)
    draw.rectangle(box, outline="black")

    def point(step: float, value: float) -> tuple[float, float]:
        x = box[0] + (step - first) / (last - first) * (box[2] - box[0])
        y = box[3] - (value - low) / (high - low) * (box[3] - box[1])
        return x, y

    for index, name in enumerate(names):
        colour = COLOURS[index % len(COLOURS)]
        points = [point(step, value) for step, value in series[name]]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        draw.text((box[0] + 10, box[1] + 8 + 14 * index), name, fill=colour)
    draw.text((box[0], box[3] + 8), f"step {first:.0f}", fill="black")
    draw.text((box[2] - 80, box[3] + 8), f"step {last:.0f}", fill="black")
    draw.text((4, box[1]), f"1e{high:.1f}", fill="black")
    draw.text((4, box[3] - 12), f"1e{low:.1f}", fill="black")
    draw.text((box[0], 8), f"{title}  losses (log scale)", fill="black")
    with atomic_path(path) as temporary:
        image.save(temporary, format="PNG")
    return path
