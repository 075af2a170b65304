"""``brushwork models list|download|verify``: the weights brushwork knows and where they are."""

from __future__ import annotations

import argparse

from plugin_core import registry


def add_parser(commands, summary: str) -> None:
    m = commands.add_parser("models", help=summary)
    actions = m.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="known models, where each is installed, and other weight files found")
    d = actions.add_parser("download", help="download known models into the user cache, checking their sha256")
    d.add_argument("names", nargs="+", metavar="NAME")
    d.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    v = actions.add_parser("verify", help="check installed files against the manifest's sha256")
    v.add_argument("names", nargs="*", metavar="NAME")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.action == "list":
        manifest = registry.read_manifest()
        print("searched, in order: " + ", ".join(str(folder) for folder in registry.search_dirs()))
        for model in manifest.values():
            found = registry.installed(model)
            where = "missing" if found is None else "installed in " + ", ".join(sorted({str(p.parent) for p in found}))
            print(f"{model.name:16} {model.family:12} {where}\n{'':29}{model.description}. Licence: {model.licence}")
        for path in registry.other_files(manifest):
            print(f"{path.stem:16} {'(own file)':12} {path}")
        return 0
    if args.action == "download":
        for name in args.names:
            for path in registry.download(name, quiet=args.quiet):
                print(f"{name}: {path}")
        return 0
    checks = registry.verify(args.names)
    for check in checks:
        detail = f" ({check.detail})" if check.detail else ""
        print(f"{check.model:16} {check.file:20} {check.status}{detail}{f'  {check.path}' if check.path else ''}")
    return 1 if any(check.status == "mismatch" for check in checks) else 0

