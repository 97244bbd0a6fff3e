"""Every error leaves the server as ``application/problem+json`` shaped as ``shared.protocol.Problem``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.protocol import Problem
from sync_server.errors import ApiError

__all__ = ["PROBLEM_MEDIA_TYPE", "install_problem_handlers", "problem_response", "problem_responses"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("sync_server")
_MAX_LISTED_ERRORS = 50
_MAX_TEXT_CHARS = 200

_CODES = {
    400: "bad_request",
    401: "not_signed_in",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
}


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    problem = Problem(title=title or _title(status), status=status, detail=detail, code=code, errors=errors)
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _printable(text: str, limit: int = _MAX_TEXT_CHARS) -> str:
    # A location can name a key the client sent: keep it short and free of control characters.
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _location(loc: Sequence[Any]) -> str:
    return _printable(".".join(str(part) for part in loc)) or "request"


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    listed: list[dict[str, str]] = []
    for error in exc.errors()[:_MAX_LISTED_ERRORS]:
        # Never echo the input: it may be large or sensitive.
        listed.append(
            {
                "loc": _location(error.get("loc", ())),
                "msg": _printable(str(error.get("msg", "invalid value"))),
                "type": _printable(str(error.get("type", "value_error"))),
            }
        )
    return listed


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem_response(exc.status, exc.code, exc.detail, title=exc.title, headers=exc.headers or None)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    if errors and errors[0]["type"] == "json_invalid":
        detail = "The request body is not valid JSON"
    elif errors:
        first = errors[0]
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        detail = f"{first['loc']}: {first['msg']}{more}"
    else:
        detail = "The request is not valid"
    return problem_response(422, "validation_failed", detail, title="Invalid request", errors=errors)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else _title(status)
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(status, _CODES.get(status, f"http_{status}"), detail, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "internal_error", "Something went wrong on the server. Try again later")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the problem bodies a route may answer with."""
    return {
        status: {"model": Problem, "description": _title(status), "content": {PROBLEM_MEDIA_TYPE: {}}}
        for status in statuses
    }
