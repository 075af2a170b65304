"""``brushwork gimp install|uninstall|doctor``: the GIMP 3 filter in GIMP's profile."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands, summary: str) -> None:
    g = commands.add_parser("gimp", help=summary)
    steps = g.add_subparsers(dest="action", required=True)
    for action, text in (("install", "copy the plug-in into GIMP's profile and point it at this Python"),
                         ("uninstall", "remove the plug-in from GIMP's profile"),
                         ("doctor", "check GIMP's folder, the plug-in, its config, the worker and the weights")):
        a = steps.add_parser(action, help=text, description=text)
        a.add_argument("--gimp-dir", type=Path, help="GIMP's profile folder (default: every GIMP 3.0/3.2 one found)")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from gimp_plugin import bridge  # the GIMP adapter, only for this command

    if args.action == "install":
        for path in bridge.install(args.gimp_dir):
            print(f"installed {path}; restart GIMP and find it under Filters > Artistic > Style Transfer...")
        return 0
    if args.action == "uninstall":
        removed = bridge.uninstall(args.gimp_dir)
        print("\n".join(f"removed {folder}" for folder in removed) or "the plug-in was not installed")
        return 0
    checks = bridge.doctor(args.gimp_dir)
    for check in checks:
        print(f"{'ok' if check.ok else 'PROBLEM':8} {check.what:14} {check.detail}")
    return 0 if all(check.ok for check in checks) else 1

