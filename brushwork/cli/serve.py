"""``brushwork serve``: the REST service (``brushwork.service``) on uvicorn or Ray Serve, and its API keys."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import date
from pathlib import Path

from brushwork.service.settings import Limits, Settings
from plugin_core.errors import RequestError

SERVE_EXTRA = "pip install 'brushwork[serve]'"


def replicas(text: str) -> int | str:
    """``auto`` (Ray Serve's autoscaling) or a number of replicas."""
    if text == "auto" or (text.isdigit() and int(text) > 0):
        return text if text == "auto" else int(text)
    raise argparse.ArgumentTypeError(f"replicas must be a positive number or auto, not {text!r}")


def quota(text: str) -> float | None:
    """A monthly quota: a number (0 refuses every call), or ``none`` for no quota."""
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"a quota is a number of at least 0, or none, not {text!r}")
    return value


def day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"a day is YYYY-MM-DD, not {text!r}") from None


def _quotas(parser: argparse.ArgumentParser, default=None) -> None:
    parser.add_argument("--monthly-calls", type=quota, default=default, metavar="N",
                        help="calls a calendar month (UTC) before 429 quota_exceeded; none: no quota")
    parser.add_argument("--monthly-megapixels", type=quota, default=default, metavar="M",
                        help="megapixels of results a calendar month; none: no quota")


def _storage(parser: argparse.ArgumentParser, default=None) -> None:
    """Where keys, jobs and usage live (``default`` SUPPRESS on subcommands, so the serve-level
    option given before them stands)."""
    parser.add_argument("--data", type=Path, default=default,
                        help="the service's folder (default ~/.local/share/brushwork-serve; SQLite lives there)")
    parser.add_argument("--database-url", default=default, metavar="URL",
                        help="a shared database instead, e.g. postgresql+psycopg://user:pass@host/brushwork")


def add_parser(commands, summary: str) -> None:
    s = commands.add_parser(
        "serve", help=summary,
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
    s.add_argument("--allowed-hosts", type=lambda text: tuple(filter(None, text.split(","))), default=(),
                   metavar="NAME,...", help="the Host names this server answers to, e.g. api.example.com or "
                   "*.example.com (default: any; a server without keys answers loopback hosts only)")
    s.add_argument("--trusted-proxies", metavar="IP,...", help="addresses of proxies whose X-Forwarded-For "
                   "and X-Forwarded-Proto are believed (default: nobody's)")
    limits = s.add_argument_group("limits")
    limits.add_argument("--max-request-mb", type=float, default=50, help="request body (default 50)")
    limits.add_argument("--max-megapixels", type=float, default=40, help="per uploaded image (default 40)")
    limits.add_argument("--max-request-megapixels", type=float, default=100,
                        help="all of a request's images together (default 100)")
    limits.add_argument("--max-styles", type=int, default=8, help="style images per request (default 8)")
    limits.add_argument("--max-steps", type=int, default=2000, help="Gram optimisation steps (default 2000)")
    limits.add_argument("--max-size", type=int, default=2048, help="long side of a result (default 2048)")
    limits.add_argument("--rate", type=float, default=120, help="requests a minute per key (default 120)")
    limits.add_argument("--waiting", type=int, default=8,
                        help="/v1/stylize requests that may wait for a worker; more get 503 (default 8)")
    limits.add_argument("--calls-per-key", type=int, default=4,
                        help="painting places one key may hold at once; more get 429 (default 4)")
    limits.add_argument("--queued-jobs", type=int, default=100, help="jobs waiting; more get 503 (default 100)")
    limits.add_argument("--jobs-per-key", type=int, default=20,
                        help="jobs one key may have queued or running; more get 429 (default 20)")
    limits.add_argument("--body-idle-seconds", type=float, default=30,
                        help="a request body that stops arriving this long is cut with 408 (default 30)")
    limits.add_argument("--job-seconds", type=float, default=1800, help="a job's time limit (default 1800)")
    limits.add_argument("--result-hours", type=float, default=24, help="how long results are kept (default 24)")
    limits.add_argument("--idempotency-hours", type=float, default=24,
                        help="how long an Idempotency-Key and its answer are kept (default 24)")
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
    _quotas(add)
    change = key_actions.add_parser("set", help="change the quotas of NAME's live keys")
    change.add_argument("name")
    _quotas(change, argparse.SUPPRESS)
    listing = key_actions.add_parser("list", help="the keys (names and first characters, never the keys) and quotas")
    revoke = key_actions.add_parser("revoke", help="revoke NAME's keys")
    revoke.add_argument("name")
    migrate = actions.add_parser("migrate", help="upgrade the database to this brushwork's schema (back it up first)")
    usage = actions.add_parser("usage", help="billed usage per key, UTC day and method, for invoices")
    usage.add_argument("--since", type=day, metavar="YYYY-MM-DD", help="from this day (inclusive)")
    usage.add_argument("--until", type=day, metavar="YYYY-MM-DD", help="to this day (inclusive)")
    usage.add_argument("--key", metavar="NAME", help="only this key name")
    usage.add_argument("--format", choices=("csv", "json"), default="csv")
    for parser in (add, change, listing, revoke, migrate, usage):
        _storage(parser, argparse.SUPPRESS)


def _settings(args: argparse.Namespace) -> Settings:
    limits = Limits(
        request_bytes=int(args.max_request_mb * 2**20), megapixels=args.max_megapixels,
        request_megapixels=args.max_request_megapixels, styles=args.max_styles, steps=args.max_steps,
        size=args.max_size, rate_per_minute=args.rate, waiting_requests=args.waiting, queued_jobs=args.queued_jobs,
        calls_per_key=args.calls_per_key, jobs_per_key=args.jobs_per_key, body_idle_seconds=args.body_idle_seconds,
        job_seconds=args.job_seconds, result_seconds=args.result_hours * 3600,
        idempotency_seconds=args.idempotency_hours * 3600,
    )
    data = {} if args.data is None else {"data": args.data}
    return Settings(database_url=args.database_url, workers=args.workers, job_workers=args.job_workers,
                    device=args.device, limits=limits, lease_seconds=args.lease_seconds,
                    watermark_serials=args.watermark_serials, c2pa_cert=args.c2pa_cert, c2pa_key=args.c2pa_key,
                    allowed_hosts=args.allowed_hosts, trusted_proxies=args.trusted_proxies, **data)


def _calls(value: float | None) -> int | None:
    return None if value is None else int(value)


def _limit(value) -> str:
    return "no quota" if value is None else f"{value:g}"


def _keys(args: argparse.Namespace, store) -> int:
    if args.key_action == "add":
        print(store.add_key(args.name, _calls(args.monthly_calls), args.monthly_megapixels))
        print(f"brushwork: key for {args.name!r}; it is not shown again, keep it safe", file=sys.stderr)
    elif args.key_action == "set":
        quotas = {name: getattr(args, name) for name in ("monthly_calls", "monthly_megapixels") if name in args}
        if not quotas:
            raise RequestError("say what to set: --monthly-calls and/or --monthly-megapixels")
        if "monthly_calls" in quotas:
            quotas["monthly_calls"] = _calls(quotas["monthly_calls"])
        if not store.set_quotas(args.name, **quotas):
            raise RequestError(f"no live key named {args.name!r}")
        print(f"quotas of {args.name!r} set")
    elif args.key_action == "list":
        for key in store.keys():
            state = "live" if key.revoked is None else "revoked"
            print(f"{key.name:24} {key.prefix}...  {state:8} calls/month: {_limit(key.monthly_calls):9} "
                  f"megapixels/month: {_limit(key.monthly_megapixels)}")
    elif not store.revoke(args.name):
        raise RequestError(f"no live key named {args.name!r}")
    else:
        print(f"revoked {args.name!r}")
    return 0


def _usage(args: argparse.Namespace, store) -> int:
    rows = store.invoice(args.since, args.until, args.key)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        writer = csv.DictWriter(sys.stdout, ["key", "day", "method", "calls", "megapixels", "seconds"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return 0


def _migrate(settings: Settings) -> int:
    import sqlalchemy as sa

    from brushwork.service import migrate

    engine = sa.create_engine(settings.url())
    before, after = migrate.upgrade(engine)
    engine.dispose()
    print(f"the database is at schema revision {after}" + ("" if before == after else
                                                           f" (was {before or 'empty'})"))
    return 0


def run(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        from brushwork.service.gate import loopback
        from brushwork.service.store import Store
    except ImportError as missing:
        raise RequestError(f"the service needs {missing.name}: {SERVE_EXTRA}") from None
    settings = _settings(args)
    settings.data.mkdir(parents=True, exist_ok=True)
    if args.action == "migrate":
        return _migrate(settings)
    store = Store(settings.url())
    if args.action == "keys":
        return _keys(args, store)
    if args.action == "usage":
        return _usage(args, store)
    if not loopback(args.host) and not store.has_keys():
        raise RequestError(f"this server has no API keys, so it only listens on loopback addresses, not "
                           f"{args.host}: add one with `brushwork serve keys add NAME` first")
    if args.ray:
        from brushwork.service.ray_serve import serve_on_ray

        serve_on_ray(settings, args.host, args.port, args.replicas, args.address, args.gpus_per_replica)
        return 0
    import uvicorn

    from brushwork.service.app import create_app
    from brushwork.service.http import HEADER_BYTES, JsonErrorsProtocol

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info", http=JsonErrorsProtocol,
                h11_max_incomplete_event_size=HEADER_BYTES, proxy_headers=bool(settings.trusted_proxies),
                forwarded_allow_ips=settings.trusted_proxies)
    return 0
