"""``brushwork``: the command line, a thin host over :mod:`plugin_core.api`, one module per command.

Only the command asked for is imported, and a command loads the painting stack (torch) only when it
paints: ``brushwork --version``, ``--help``, argument errors and ``models list`` answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from plugin_core import __version__
from plugin_core.errors import BrushworkError

COMMANDS = {
    "stylize": "paint a photo in the style of one or more images or models",
    "video": "paint a clip (or a folder of frames) without flicker",
    "batch": "paint a folder of images or a manifest of work, on Ray or in this process",
    "serve": "the REST API: POST /v1/stylize and /v1/jobs (keys with `serve keys`)",
    "models": "list, download and verify model weights",
    "train": "train an AdaIN decoder, a feed-forward style or a fast arbitrary model",
    "export": "export a model for other runtimes",
    "gimp": "install, remove or check the GIMP 3 filter (Filters > Artistic)",
    "verify": "read brushwork's invisible watermark and metadata from images",
}
"""Each command's module (``brushwork.cli.NAME``) and its line in ``brushwork --help``."""
EXIT_BAD_INPUT = 2


def command(name: str):
    return importlib.import_module(f"{__name__}.{name}")


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: every command is listed, and only the first one ``argv`` names is built
    in full (every one without ``argv``)."""
    named = COMMANDS if argv is None else [word for word in argv if word in COMMANDS][:1]
    parser = argparse.ArgumentParser(prog="brushwork", description="Neural style transfer for designers.")
    parser.add_argument("--version", action="version", version=f"brushwork {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in COMMANDS.items():
        if name in named:
            command(name).add_parser(commands, summary)
        else:
            commands.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(argv).parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *_rest, **_kw: print(f"brushwork: warning: {message}", file=sys.stderr)
        try:
            return command(args.command).run(args, argv)
        except BrushworkError as error:
            print(f"brushwork: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print("brushwork: interrupted; no partial file written", file=sys.stderr)
            return 130
