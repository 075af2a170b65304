"""``brushwork serve``: the REST service (``brushwork.service``) on uvicorn or Ray Serve, and its API keys."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from brushwork.service.settings import Limits, Settings
from plugin_core.errors import RequestError

SERVE_EXTRA = "pip install 'brushwork[serve]'"
LOOPBACK_NAMES = ("localhost",)


def replicas(text: str) -> int | str:
    """``auto`` (Ray Serve's autoscaling) or a number of replicas."""
    if text == "auto" or (text.isdigit() and int(text) > 0):
        return text if text == "auto" else int(text)
    raise argparse.ArgumentTypeError(f"replicas must be a positive number or auto, not {text!r}")


def _storage(parser: argparse.ArgumentParser, default=None) -> None:
    """Where keys, jobs and usage live (``default`` SUPPRESS on subcommands, so the serve-level
    option given before them stands)."""
    parser.add_argument("--data", type=Path, default=default,
                        help="the service's folder (default ~/.local/share/brushwork-serve; SQLite lives there)")
    parser.add_argument("--database-url", default=default, metavar="URL",
                        help="a shared database instead, e.g. postgresql+psycopg://user:pass@host/brushwork")


def add_parser(commands) -> None:
    s = commands.add_parser(
        "serve", help="the REST API: POST /v1/stylize and /v1/jobs (keys with `serve keys`)",
        description=f"Serve brushwork over HTTP ({SERVE_EXTRA}). OpenAPI docs at /docs. Without API keys the "
        "server only listens on loopback addresses; add one with `brushwork serve keys add NAME`.",
    )
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000)
    _storage(s)
    s.add_argument("--workers", type=int, default=1, help="threads painting /v1/stylize requests (default 1)")
    s.add_argument("--job-workers", type=int, default=1,
                   help="threads running jobs (default 1; 0: take jobs, and leave them to other servers)")
    s.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    s.add_argument("--watermark-serials", action="store_true",
                   help="put the caller's key id (its low 16 bits) in every result's invisible mark")
    s.add_argument("--c2pa-cert", type=Path, metavar="PEM", help="the certificate chain that signs the results' "
                   "C2PA content credentials (default: a development certificate made once in DATA/c2pa)")
    s.add_argument("--c2pa-key", type=Path, metavar="PEM", help="its private key")
    limits = s.add_argument_group("limits")
    limits.add_argument("--max-request-mb", type=float, default=50, help="request body (default 50)")
    limits.add_argument("--max-megapixels", type=float, default=40, help="per uploaded image (default 40)")
    limits.add_argument("--max-steps", type=int, default=2000, help="Gram optimisation steps (default 2000)")
    limits.add_argument("--max-size", type=int, default=2048, help="long side of a result (default 2048)")
    limits.add_argument("--rate", type=float, default=120, help="requests a minute per key (default 120)")
    limits.add_argument("--waiting", type=int, default=8,
                        help="/v1/stylize requests that may wait for a worker; more get 503 (default 8)")
    limits.add_argument("--queued-jobs", type=int, default=100, help="jobs waiting; more get 503 (default 100)")
    limits.add_argument("--job-seconds", type=float, default=1800, help="a job's time limit (default 1800)")
    limits.add_argument("--result-hours", type=float, default=24, help="how long results are kept (default 24)")
    limits.add_argument("--lease-seconds", type=float, default=30,
                        help="a running job whose server is silent this long is run again (default 30)")
    ray = s.add_argument_group("Ray Serve")
    ray.add_argument("--ray", action="store_true", help="serve as a Ray Serve deployment")
    ray.add_argument("--address", help="a Ray cluster's address (default: start a local Ray)")
    ray.add_argument("--replicas", type=replicas, default=1,
                     help="replicas, each with its models loaded, or auto (default 1)")
    ray.add_argument("--gpus-per-replica", type=float, default=0.0)
    actions = s.add_subparsers(dest="action")
    keys = actions.add_parser("keys", help="add, list and revoke API keys")
    key_actions = keys.add_subparsers(dest="key_action", required=True)
    add = key_actions.add_parser("add", help="make a key for NAME and print it (the only time it is shown)")
    add.add_argument("name")
    listing = key_actions.add_parser("list", help="the keys (names and first characters, never the keys)")
    revoke = key_actions.add_parser("revoke", help="revoke NAME's keys")
    revoke.add_argument("name")
    for parser in (add, listing, revoke):
        _storage(parser, argparse.SUPPRESS)


def _settings(args: argparse.Namespace) -> Settings:
    limits = Limits(
        request_bytes=int(args.max_request_mb * 2**20), megapixels=args.max_megapixels, steps=args.max_steps,
        size=args.max_size, rate_per_minute=args.rate, waiting_requests=args.waiting, queued_jobs=args.queued_jobs,
        job_seconds=args.job_seconds, result_seconds=args.result_hours * 3600,
    )
    data = {} if args.data is None else {"data": args.data}
    return Settings(database_url=args.database_url, workers=args.workers, job_workers=args.job_workers,
                    device=args.device, limits=limits, lease_seconds=args.lease_seconds,
                    watermark_serials=args.watermark_serials, c2pa_cert=args.c2pa_cert, c2pa_key=args.c2pa_key,
                    **data)


def _keys(args: argparse.Namespace, store) -> int:
    if args.key_action == "add":
        print(store.add_key(args.name))
        print(f"brushwork: key for {args.name!r}; it is not shown again, keep it safe", file=sys.stderr)
    elif args.key_action == "list":
        for key in store.keys():
            state = "live" if key.revoked is None else "revoked"
            print(f"{key.name:24} {key.prefix}...  {state}")
    elif not store.revoke(args.name):
        raise RequestError(f"no live key named {args.name!r}")
    else:
        print(f"revoked {args.name!r}")
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in LOOPBACK_NAMES


def run(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        from brushwork.service.store import Store
    except ImportError as missing:
        raise RequestError(f"the service needs {missing.name}: {SERVE_EXTRA}") from None
    settings = _settings(args)
    settings.data.mkdir(parents=True, exist_ok=True)
    store = Store(settings.url())
    if args.action == "keys":
        return _keys(args, store)
    if not _loopback(args.host) and not store.has_keys():
        raise RequestError(f"this server has no API keys, so it only listens on loopback addresses, not "
                           f"{args.host}: add one with `brushwork serve keys add NAME` first")
    if args.ray:
        from brushwork.service.ray_serve import serve_on_ray

        serve_on_ray(settings, args.host, args.port, args.replicas, args.address, args.gpus_per_replica)
        return 0
    import uvicorn

    from brushwork.service.app import create_app

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0
