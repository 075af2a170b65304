"""uvicorn's HTTP/1.1 protocol (h11) as the service runs it: a request uvicorn itself cannot take (a
malformed request line, headers past :data:`HEADER_BYTES`) is answered in the service's JSON error
body, not plain text."""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .errors import body

HEADER_BYTES = 64 * 1024
"""A request's line and headers together, at most."""


class JsonErrorsProtocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        payload = json.dumps(body("bad_request", f"uvicorn could not read the request: {msg}")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"), h11.Data(data=payload),
                      h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()
