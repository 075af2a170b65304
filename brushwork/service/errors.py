"""Every failure as ``{"error": {"code": ..., "message": ...}}`` with a 4xx status for the caller's
mistakes; a database that does not answer is a 503 to retry; an unexpected failure is a 500 with an
id to find it in the log, never a traceback."""

from __future__ import annotations

import json
import logging
import uuid

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from plugin_core.errors import BrushworkError, ImageError, MaskError, ResultError, WeightsError

from .ledger import QUOTA_EXCEEDED, QuotaExceeded

log = logging.getLogger("brushwork.serve")

CORE_ERRORS = ((ImageError, "invalid_image"), (MaskError, "invalid_mask"), (WeightsError, "unknown_model"),
               (ResultError, "failed_result"), (BrushworkError, "invalid_request"))
"""The core's errors (first match wins), each a 4xx: they name what is wrong with the request."""
DATABASE_AWAY = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
"""The database does not answer (restarting, unreachable, out of connections): the caller retries."""
DATABASE_RETRY_SECONDS = 5
HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 408: "timeout",
              413: "too_large", 415: "unsupported_media_type", 429: "rate_limited", 503: "busy"}


class ApiError(Exception):
    """A refusal: ``status``, a machine-readable ``code`` and a message for people."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


async def send_error(send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    """Answer from ASGI middleware, before any route: the error body, the connection then closed
    (the request's body may be unread)."""
    payload = json.dumps(body(code, message)).encode()
    extra = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"), *extra]})
    await send({"type": "http.response.body", "body": payload})


def database_unavailable() -> JSONResponse:
    return JSONResponse(body("database_unavailable", "the service's database does not answer; retry shortly"),
                        503, headers={"Retry-After": str(DATABASE_RETRY_SECONDS)})


def core_error(error: BrushworkError) -> ApiError:
    code = next(code for kind, code in CORE_ERRORS if isinstance(error, kind))
    return ApiError(422 if isinstance(error, ResultError) else 400, code, str(error))


def _field(location: tuple) -> str:
    return ".".join(str(part) for part in location if part not in ("body", "query", "header", "path"))


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the error body."""

    @app.exception_handler(ApiError)
    async def refused(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(body(error.code, error.message), error.status, headers=error.headers)

    @app.exception_handler(BrushworkError)
    async def bad_input(request: Request, error: BrushworkError) -> JSONResponse:
        return await refused(request, core_error(error))

    @app.exception_handler(QuotaExceeded)
    async def over_quota(_request: Request, error: QuotaExceeded) -> JSONResponse:
        return JSONResponse(body(QUOTA_EXCEEDED, str(error)), 429)

    for away in DATABASE_AWAY:
        @app.exception_handler(away)
        async def database_away(request: Request, error: Exception) -> JSONResponse:
            log.warning("the database did not answer on %s %s: %s", request.method, request.url.path,
                        type(error).__name__)
            return database_unavailable()

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{_field(e['loc']) or 'request'}: {e['msg']}" for e in error.errors()]
        return JSONResponse(body("invalid_field", "; ".join(problems)), 422)

    @app.exception_handler(HTTPException)
    async def http(_request: Request, error: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(error.status_code, "bad_request" if error.status_code < 500 else "internal")
        return JSONResponse(body(code, str(error.detail)), error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.exception("incident %s on %s %s", incident, request.method, request.url.path, exc_info=error)
        return JSONResponse(body("internal", f"the server failed (incident {incident}); it keeps serving"), 500)
