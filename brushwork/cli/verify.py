"""``brushwork verify FILE...``: does each image carry brushwork's invisible mark, its metadata, and
C2PA content credentials (valid and trusted, valid from an untrusted signer, tampered, absent)?

Exit status: 0 when every file carries the mark, 1 when any does not, 2 when any file is missing or
not an image (the others are still read and reported).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from plugin_core.errors import ImageError, RequestError

EXIT_UNMARKED = 1
EXIT_BAD_INPUT = 2


def add_parser(commands, summary: str) -> None:
    v = commands.add_parser("verify", help=summary,
                            description=__doc__.split("\n\n")[0])
    v.add_argument("files", nargs="+", type=Path, metavar="FILE")
    v.add_argument("--json", action="store_true", help="one JSON list, an object per file, on stdout")
    v.add_argument("--trust", type=Path, metavar="PEM",
                   help="certificates whose C2PA signatures count as trusted (for example your CA)")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from plugin_core import provenance  # the reader, loaded only to read

    reports, status = [], 0
    trust = None if args.trust is None else _read(args.trust)
    for path in args.files:
        try:
            findings = provenance.inspect(path, trust=trust)
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


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise RequestError(f"cannot read the trusted certificates: {error}") from None
