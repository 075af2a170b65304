"""The web studio at ``/``: static files shipped in the package (no CDN, no build step, works
offline), served with a strict Content-Security-Policy and the usual protective headers.

The page holds no secret and is served whether or not keys exist: every API call it makes sends the
key the user pasted (kept in the tab's session storage), as any client does.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

FILES = Path(__file__).with_name("studio_files")
PREFIX = "/studio"
POLICY = "; ".join((
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob: data:",
    "connect-src 'self'", "form-action 'none'", "frame-ancestors 'none'", "base-uri 'none'",
))
HEADERS = {
    "Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY", "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class StudioHeaders:
    """ASGI middleware: the studio's pages and files carry :data:`HEADERS` (``/docs`` keeps its own)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != "/" and not path.startswith(f"{PREFIX}/"):
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      *((k.lower().encode(), v.encode()) for k, v in HEADERS.items())]
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    app.mount(PREFIX, StaticFiles(directory=FILES), name="studio")
    app.add_middleware(StudioHeaders)

    @app.get("/", include_in_schema=False)
    def studio() -> FileResponse:
        return FileResponse(FILES / "index.html", media_type="text/html")
