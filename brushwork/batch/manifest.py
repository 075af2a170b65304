"""Rows of work: from a folder of images or a CSV/Parquet table, and the results table written back.

A row names ``content`` and may set ``output`` (relative to the output folder; default: the
content's path there, mirroring the input's layout, as ``.png``), ``style`` (paths separated by
``;``), ``model`` (likewise), ``style_weight`` (one per style, likewise), ``method``, ``strength``,
``color``, ``size`` and ``mask``; an empty cell takes the command's own option. Other relative
paths are read from the table's folder.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from plugin_core.errors import RequestError
from plugin_core.files import IMAGE_SUFFIXES, atomic_path

COLUMNS = ("content", "output", "style", "model", "style_weight", "method", "strength", "color", "size", "mask")
PATH_COLUMNS = ("content", "mask")
RESULT_COLUMNS = ("status", "seconds", "error")
TABLE_SUFFIXES = (".csv", ".parquet")


def blank(value) -> bool:
    """An empty cell: None, blank text, or NaN (how tables and Ray Data hand over a missing number)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return math.isnan(value)
    except TypeError:
        return False


def _pyarrow():
    try:
        import pyarrow.parquet
    except ImportError:
        raise RequestError("Parquet tables need pyarrow: pip install 'brushwork[scale]'") from None
    return pyarrow


def from_folder(folder: Path, output: Path) -> list[dict]:
    """Every image under ``folder`` (subfolders too), its output at the same place under ``output``."""
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise RequestError(f"folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return [row({"content": str(p)}, folder, output, p.relative_to(folder)) for p in images]


def from_table(path: Path, output: Path) -> list[dict]:
    """The rows of a CSV or Parquet table."""
    if path.suffix.lower() == ".parquet":
        records = _pyarrow().parquet.read_table(path).to_pylist()
    else:
        with open(path, newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
    if not records:
        raise RequestError(f"table {path} has no rows")
    unknown = sorted(set(records[0]) - set(COLUMNS))
    if "content" not in records[0] or unknown:
        raise RequestError(f"table {path}: needs a content column, takes {', '.join(COLUMNS)}"
                           + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    folder = path.parent
    rows = [row(record, folder, output, Path(str(record["content"]))) for record in records]
    seen: dict[str, int] = {}
    for number, item in enumerate(rows, start=1):
        if item["output"] in seen:
            raise RequestError(f"table {path}: rows {seen[item['output']]} and {number} both write {item['output']}")
        seen[item["output"]] = number
    return rows


def row(record: dict, folder: Path, output: Path, relative: Path) -> dict:
    """A record with every column, blanks as "" (numbers as None), paths made absolute."""
    clean = {column: "" if blank(record.get(column)) else record[column] for column in COLUMNS}
    for column in PATH_COLUMNS:
        if clean[column]:
            clean[column] = str(folder / str(clean[column]))
    clean["style"] = ";".join(str(folder / part.strip()) for part in str(clean["style"]).split(";") if part.strip())
    if clean["output"]:
        clean["output"] = str(output / str(clean["output"]))
    else:
        inside = not relative.is_absolute() and ".." not in relative.parts
        clean["output"] = str(output / (relative if inside else Path(relative.name)).with_suffix(".png"))
    try:
        clean["strength"] = None if clean["strength"] == "" else float(clean["strength"])
        clean["size"] = None if clean["size"] == "" else int(float(clean["size"]))
    except ValueError:
        raise RequestError(f"row of {record.get('content')}: strength and size must be numbers") from None
    return clean


def write_results(path: Path, rows: list[dict]) -> Path:
    """The rows with their status, seconds and error, as CSV or Parquet (by ``path``'s suffix), atomically."""
    columns = (*COLUMNS, *RESULT_COLUMNS)
    with atomic_path(path) as temporary:
        if path.suffix.lower() == ".parquet":
            pyarrow = _pyarrow()
            table = pyarrow.table({column: [r.get(column) for r in rows] for column in columns})
            pyarrow.parquet.write_table(table, temporary)
        else:
            with open(temporary, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
    return path
