"""What a request must show before any route sees it: a Host this server answers to and, on a
server without keys, a loopback Host and no other site's Origin (the shapes of DNS rebinding and
cross-site requests against a local server). HEAD is answered as GET without the body."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

import anyio

from .errors import send_error

LOOPBACK_NAMES = ("localhost",)


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in LOOPBACK_NAMES


def _matches(host: str, pattern: str) -> bool:
    """``pattern`` a name, or ``*.example.com`` for its subdomains."""
    return host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:]))


class Gate:
    """ASGI middleware. ``allowed_hosts`` (empty: any) are the Host names a keyed server answers to;
    ``open_mode()`` says whether the server has no keys yet (then only loopback, same-origin calls)."""

    def __init__(self, app, allowed_hosts: tuple[str, ...], open_mode: Callable[[], bool]):
        self.app, self.allowed_hosts, self.open_mode = app, allowed_hosts, open_mode

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        host_header = headers.get(b"host", b"").decode("latin-1")
        host = (urlsplit(f"//{host_header}").hostname or "") if host_header else ""
        refusal = None
        if self.allowed_hosts and not any(_matches(host, pattern) for pattern in self.allowed_hosts):
            refusal = (400, "invalid_host", f"this server does not answer to the host {host_header!r}")
        elif await anyio.to_thread.run_sync(self.open_mode):
            origin = headers.get(b"origin", b"").decode("latin-1")
            if not loopback(host):
                refusal = (400, "invalid_host", f"a server without API keys answers to loopback hosts only, "
                                                f"not {host_header!r}")
            elif origin and urlsplit(origin).netloc != host_header:
                refusal = (403, "cross_origin", f"a server without API keys takes no requests from other sites "
                                                f"({origin})")
        if refusal is not None:
            return await send_error(send, *refusal)
        if scope["method"] == "HEAD":
            return await self.app(dict(scope, method="GET"), receive, _headless(send))
        await self.app(scope, receive, send)


def _headless(send):
    async def without_body(message):
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return without_body
