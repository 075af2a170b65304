"""``brushwork verify FILE...``: does each image carry brushwork's invisible mark, and its metadata?

Exit status: 0 when every file carries the mark, 1 when any does not, 2 when any file is missing or
not an image (the others are still read and reported).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from plugin_core import provenance
from plugin_core.errors import ImageError

EXIT_UNMARKED = 1
EXIT_BAD_INPUT = 2


def add_parser(commands) -> None:
    v = commands.add_parser("verify", help="read brushwork's invisible watermark and metadata from images",
                            description=__doc__.split("\n\n")[0])
    v.add_argument("files", nargs="+", type=Path, metavar="FILE")
    v.add_argument("--json", action="store_true", help="one JSON list, an object per file, on stdout")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    reports, status = [], 0
    for path in args.files:
        try:
            findings = provenance.inspect(path)
        except ImageError as error:
            reports.append({"file": str(path), "error": str(error)})
            status = EXIT_BAD_INPUT
            continue
        reports.append({"file": str(path), **findings.as_dict(), "summary": findings.summary()})
        if findings.mark is None and status == 0:
            status = EXIT_UNMARKED
    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        for report in reports:
            print(f"{report['file']}: {report.get('summary') or 'error: ' + report['error']}")
    return status
