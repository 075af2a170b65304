"""The request body's limits, enforced while it streams in: its size (a declared ``Content-Length``
over it is refused before a byte is read, so never more than the limit is in memory or on disk),
and its pace (a body that stops arriving is cut)."""

from __future__ import annotations

import anyio
from starlette.exceptions import HTTPException

from .errors import send_error


class BodyTooLarge(HTTPException):
    """Raised from the body stream itself, so whatever is reading it (the multipart parser) stops."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request is larger than this server's limit of {limit} bytes")


class BodyStalled(HTTPException):
    def __init__(self, seconds: float):
        super().__init__(408, f"the request's body stopped arriving for {seconds:g} s")


class BodyLimit:
    """ASGI middleware: 413 once a request's body passes ``limit`` bytes, 408 when it stops arriving
    for ``idle_seconds``."""

    def __init__(self, app, limit: int, idle_seconds: float):
        self.app, self.limit, self.idle_seconds = app, limit, idle_seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await send_error(send, 413, "too_large", BodyTooLarge(self.limit).detail)
        seen, complete = 0, False

        async def counted_receive():
            nonlocal seen, complete
            if complete:
                return await receive()
            with anyio.move_on_after(self.idle_seconds) as waited:
                message = await receive()
            if waited.cancelled_caught:
                raise BodyStalled(self.idle_seconds)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, counted_receive, send)
