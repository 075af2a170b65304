"""The request-size limit, enforced while the body streams in (a declared ``Content-Length`` over it
is refused before a byte is read), and so never more than the limit in memory or on disk."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException

from .errors import body


class BodyTooLarge(HTTPException):
    """Raised from the body stream itself, so whatever is reading it (the multipart parser) stops."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request is larger than this server's limit of {limit} bytes")


class BodyLimit:
    """ASGI middleware: 413 once a request's body passes ``limit`` bytes."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted_receive, send)

    async def _refuse(self, send) -> None:
        payload = json.dumps(body("too_large", BodyTooLarge(self.limit).detail)).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
