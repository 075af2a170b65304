"""``brushwork``: the command line, a thin host over :mod:`plugin_core.api`, one module per command."""

from __future__ import annotations

import argparse
import sys
import warnings

from plugin_core import __version__
from plugin_core.errors import BrushworkError

from . import batch, export, gimp, models, serve, stylize, train, verify, video

COMMANDS = {
    "stylize": stylize, "video": video, "batch": batch, "serve": serve, "models": models, "train": train,
    "export": export, "gimp": gimp, "verify": verify,
}
EXIT_BAD_INPUT = 2


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brushwork", description="Neural style transfer for designers.")
    parser.add_argument("--version", action="version", version=f"brushwork {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *_rest, **_kw: print(f"brushwork: warning: {message}", file=sys.stderr)
        try:
            return COMMANDS[args.command].run(args, argv)
        except BrushworkError as error:
            print(f"brushwork: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print("brushwork: interrupted; no partial file written", file=sys.stderr)
            return 130
