"""problem+json for every error; the statuses come from the one table, :mod:`voxbill.outcomes`."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from voxbill.domain import errors
from voxbill.domain.errors import UNSTORABLE
from voxbill.outcomes import http_status_for

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger(__name__)

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "stable, machine-readable"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}

_DESCRIPTIONS = {
    401: "no, unknown or revoked API key, or an account closed (unauthorized)",
    402: "not enough available funds (insufficient_funds)",
    403: "the key may not do this (forbidden; support keys, and keys of a blocked or "
    "suspended account, are read-only: account_not_active)",
    404: "not found, or outside the key's subtree (not_found)",
    408: "the request body stopped arriving (request_timeout); the connection is closed",
    409: "conflict, e.g. same Idempotency-Key with another body (idempotency_conflict)",
    413: "request body over the route's limit (payload_too_large)",
    415: "unsupported media type",
    422: "invalid input; nothing was changed (invalid_input and subcodes)",
    429: "over a limit; see Retry-After (rate_limited, too_many_auth_failures)",
    503: "a lock could not be had in time; retry (database_busy)",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json errors an endpoint can return."""
    chosen = statuses or (401, 404, 422)
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, "error"),
            "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}},
        }
        for status in chosen
    }


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"https://voxbill.dev/problems/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _log_unstorable(request: Request, exc: BaseException) -> None:
    log.warning(
        "%s %s: refused a value the database cannot store: %s",
        request.method,
        request.url.path,
        exc,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.VoxbillError)
    async def _voxbill(request: Request, exc: errors.VoxbillError) -> JSONResponse:
        if isinstance(exc, errors.UnstorableValue):
            _log_unstorable(request, exc.__cause__ or exc)
        extra: dict[str, Any] = {}
        if isinstance(exc, errors.RateDeckError) and exc.problems:
            extra["errors"] = [{"line": line, "message": msg} for line, msg in exc.problems[:100]]
        reason = getattr(exc, "reason", None)
        if isinstance(reason, str):  # a refused call: the reason a switch maps
            extra["reason"] = reason
        response = problem(http_status_for(exc), exc.code, exc.message, **extra)
        if isinstance(exc, errors.RateLimited):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "message": str(e.get("msg"))}
            for e in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "message": "invalid request"}
        where = ".".join(first["loc"][1:]) or "request"
        return problem(422, "invalid_input", f"{where}: {first['message']}", errors=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not_found",
            405: "method_not_allowed",
            408: "request_timeout",
            401: "unauthorized",
            403: "forbidden",
            413: "payload_too_large",
            415: "unsupported_media_type",
        }.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(OverflowError)
    async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
        # a safety net: input every check let through that the sqlite3 driver refuses
        # (OverflowError) is bad input, not a 500; the database's own refusal (DataError)
        # arrives as errors.UnstorableValue, translated by storage
        _log_unstorable(request, exc)
        return problem(422, "invalid_input", UNSTORABLE)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, _exc: Exception) -> JSONResponse:
        return problem(500, "internal_error", "an internal error occurred; it has been logged")
