"""Pure ASGI middleware that runs before any parsing: protocol version and request size.

- A ``/v1`` request whose ``X-Gatepost-Protocol`` header is present but not a supported version
  gets a 426 problem the app shows ("update Gatepost"). An absent header means version 1.
- A request body larger than ``max_request_bytes`` gets a 413 problem, decided from
  ``Content-Length`` before reading and by counting the bytes actually received (chunked bodies).
  The body is buffered here (at most the limit) and replayed to the application.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS
from sync_server.api.problems import problem_response
from sync_server.errors import PayloadTooLarge, UnsupportedProtocol

__all__ = ["RequestGuard"]

_VERSION_TEXT = re.compile(r"^\s*[0-9]{1,6}\s*$")
_VERSION_HEADER = (PROTOCOL_HEADER.lower().encode("latin-1"), str(PROTOCOL_VERSION).encode("latin-1"))


def _supported(value: str) -> bool:
    return _VERSION_TEXT.fullmatch(value) is not None and int(value) in SUPPORTED_PROTOCOL_VERSIONS


def _newer(value: str) -> bool:
    return _VERSION_TEXT.fullmatch(value) is not None and int(value) > max(SUPPORTED_PROTOCOL_VERSIONS)


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_request_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), _VERSION_HEADER]
            await send(message)

        if str(scope.get("path", "")).startswith("/v1"):
            requested = headers.get(PROTOCOL_HEADER)
            if requested is not None and not _supported(requested):
                error = UnsupportedProtocol(app_is_newer=_newer(requested))
                response = problem_response(error.status, error.code, error.detail, title=error.title)
                await response(scope, receive, send_with_version)
                return

        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                response = problem_response(400, "bad_request", "Content-Length is not a number")
                await response(scope, receive, send_with_version)
                return
            if int(length) > self.max_request_bytes:
                await self._too_large(scope, receive, send_with_version)
                return

        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before sending its body
            body = message.get("body", b"")
            received += len(body)
            if received > self.max_request_bytes:
                await self._too_large(scope, receive, send_with_version)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_version)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(self.max_request_bytes)
        response = problem_response(
            error.status, error.code, error.detail, title=error.title, headers={"Connection": "close"}
        )
        await response(scope, receive, send)
