"""``brushwork batch IN -o OUT``: a folder of images or a manifest, painted on Ray (or in this process)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from plugin_core.controls import check_method
from plugin_core.errors import RequestError

from . import options

EXIT_SOME_FAILED = 1


def add_parser(commands, summary: str) -> None:
    from brushwork.batch.engines import ENGINES, RAY_EXTRA  # the batch adapter, only for this command
    from brushwork.batch.manifest import COLUMNS

    b = commands.add_parser(
        "batch", help=summary,
        description="Paint every image of a folder (outputs mirror its layout) or every row of a CSV/Parquet "
        f"manifest (columns {', '.join(COLUMNS)}; several values in a cell joined by ';'; blank cells take "
        "the options below). Rows whose outputs exist are skipped, so a rerun resumes; a row that fails is "
        "recorded in the results table and the rest go on. Runs on Ray Data when installed "
        f"({RAY_EXTRA}): a local Ray, or a cluster with --address.",
    )
    b.add_argument("input", type=Path, help="a folder of images, or a .csv or .parquet manifest")
    b.add_argument("--output", "-o", type=Path, required=True, help="the folder the outputs go to")
    b.add_argument("--results", type=Path, help="the results table, .csv or .parquet (default OUTPUT/results.csv)")
    options.add_field_options(b)
    options.add_credentials_options(b)
    b.add_argument("--engine", default="auto", choices=ENGINES,
                   help="ray (a local Ray, or --address), local (this process); auto: ray when installed")
    b.add_argument("--address", help="a Ray cluster's address (ray://HEAD:10001, or auto); default: a local Ray")
    b.add_argument("--actors", type=int, default=2, help="Ray actors painting at once (default 2)")
    b.add_argument("--batch-size", type=int, default=4, help="rows handed to a painter at a time (default 4)")
    b.add_argument("--gpus-per-actor", type=float, default=0.0, help="each actor's share of a GPU (default 0)")
    b.add_argument("--overwrite", action="store_true", help="paint rows whose outputs exist again")
    b.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from tqdm import tqdm

    from brushwork.batch import engines, manifest
    from brushwork.batch.painter import stale_temporaries

    from . import reading

    check_method(args.method)
    if args.actors < 1 or args.batch_size < 1:
        raise RequestError("--actors and --batch-size must be at least 1")
    if args.input.is_dir():
        rows = manifest.from_folder(args.input, args.output)
    elif args.input.suffix.lower() in manifest.TABLE_SUFFIXES and args.input.is_file():
        rows = manifest.from_table(args.input, args.output)
    else:
        raise RequestError(f"{args.input} is neither a folder of images nor a .csv or .parquet manifest")
    results = args.results or args.output / "results.csv"
    args.output.mkdir(parents=True, exist_ok=True)
    for row in rows:
        for leftover in stale_temporaries(Path(row["output"])):
            leftover.unlink()
    finished = [not args.overwrite and Path(row["output"]).is_file() for row in rows]
    todo = [row for row, done in zip(rows, finished, strict=True) if not done]
    skipped = [{**row, "status": "skipped", "seconds": 0.0, "error": ""}
               for row, done in zip(rows, finished, strict=True) if done]
    defaults = {"method": args.method, "style": ";".join(str(p.resolve()) for p in args.style),
                "model": ";".join(args.model), "style_weight": ";".join(map(str, args.style_weight)),
                "strength": args.strength, "color": args.color, "size": args.size, "tile": args.tile,
                "steps": args.steps, "precision": args.precision, "device": args.device,
                "watermark": args.watermark == "on", "signing": reading.signing(args)}
    engine = args.engine
    if engine == "auto":
        engine = "ray" if engines.ray_installed() else "local"
        if engine == "local":
            print(f"brushwork: running in this process; {engines.RAY_EXTRA} to run on Ray", file=sys.stderr)
    bar = tqdm(total=len(todo), unit="image", disable=args.quiet, leave=False)
    start = time.perf_counter()
    try:
        if not todo:
            done = []
        elif engine == "ray":
            done = engines.run_ray(todo, defaults, args.batch_size, lambda row: bar.update(1), args.actors,
                                   args.address, args.gpus_per_actor)
        else:
            done = engines.run_local(todo, defaults, args.batch_size, lambda row: bar.update(1))
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    manifest.write_results(results, skipped + done)
    painted = sum(row["status"] == "done" for row in done)
    failed = [row for row in done if row["status"] == "failed"]
    for row in failed:
        print(f"brushwork: failed: {row['content']}: {row['error']}", file=sys.stderr)
    rate = f" ({painted / seconds:.2f} images/s)" if painted else ""
    print(f"{painted} done, {len(skipped)} skipped, {len(failed)} failed in {seconds:.1f} s{rate} on {engine}; "
          f"results in {results}")
    return EXIT_SOME_FAILED if failed else 0
