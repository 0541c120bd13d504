"""The HTTP door's first check, before any route and any fast lane: who is asking, and
how much may it send.

Pure ASGI, the outermost of the application's middleware. For each HTTP request:

1. Outside the public paths (health, the OpenAPI schema and its docs), the Bearer key
   (read as FastAPI's ``HTTPBearer`` reads it) is checked before one byte of the body is
   read: no or a bad key is ``401`` problem+json whatever the body (malformed JSON, a
   100 MB upload or a chunked body that never ends), and the connection is closed if a
   body was announced, so the server never reads more than its own buffer of it.
2. The check is the key cache's when the key is cached and valid (on the event loop,
   no query: the calls' hot path), else a database read in the threadpool. Writes other
   than the switches' (everything but ``/calls…`` and ``/sms``, and ``POST /quote`` which
   changes nothing) always re-read the key: a revocation or a blocked account, made on
   any node, stops them at once (:class:`~voxbill.services.access.keys.AuthService`).
3. A source address with too many failed keys lately gets ``429
   too_many_auth_failures`` with ``Retry-After`` instead of a check
   (:mod:`voxbill.services.access.failures`); a cached valid key still passes.
4. The body is then read under the route's limit (``max_deck_bytes`` for a deck upload,
   ``max_body_bytes`` otherwise; ``413 payload_too_large`` from ``Content-Length`` at
   once, or as soon as a streamed body passes it) and must never pause for more than
   ``http_body_timeout_seconds`` (``408 request_timeout``) (:mod:`voxbill.api.body`).
   An answer given before the body ended closes the connection.

The principal is left in the scope (:data:`PRINCIPAL`) for the routes' dependency
(:mod:`voxbill.api.auth`) and the fast lanes: the key is checked once per request.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi.security.utils import get_authorization_scheme_param
from starlette.exceptions import HTTPException
from starlette.responses import Response

from voxbill.api import problems
from voxbill.api.body import BodyTooLarge, LimitedBody, announced
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal
from voxbill.domain.errors import Unauthorized
from voxbill.services.access.failures import AuthFailures
from voxbill.serving import warm

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: the scope key under which the request's principal is left for the routes
PRINCIPAL = "voxbill.principal"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_CLOSE = (b"connection", b"close")


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        container: Container,
        prefix: str,
        public: frozenset[str],
        open_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.container = container
        self.public = public
        #: paths under these need no API key (the portal: its own sessions)
        self.open_prefixes = open_prefixes
        settings = container.settings
        self.max_body = settings.max_body_bytes
        self.max_deck = settings.max_deck_bytes
        self.body_timeout = settings.http_body_timeout_seconds
        failures = container.auth_failures
        assert failures is not None  # the container always makes one
        self.failures: AuthFailures = failures
        #: writes whose key may come from the cache (the switches' hot path)
        self._cached_writes = (f"{prefix}/calls", f"{prefix}/sms", f"{prefix}/quote")
        self._decks = (f"{prefix}/rate-plans/", "/deck")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        method = scope["method"]
        has_body, length = announced(scope["headers"])
        if path not in self.public and not (
            self.open_prefixes and path.startswith(self.open_prefixes)
        ):
            checked = await self._principal(scope, path, method)
            if isinstance(checked, Response):
                await _answer(checked, has_body, scope, receive, send)
                return
            scope[PRINCIPAL] = checked
        if not has_body:
            await self.app(scope, receive, send)
            return
        deck = (
            method == "POST" and path.startswith(self._decks[0]) and path.endswith(self._decks[1])
        )
        limit = self.max_deck if deck else self.max_body
        if length is not None and length > limit:  # announced: refused before it is read
            await _answer(
                _problem(413, str(BodyTooLarge(limit).detail)), True, scope, receive, send
            )
            return
        await self._guarded(scope, LimitedBody(receive, limit, self.body_timeout), send)

    async def _guarded(self, scope: Scope, body: LimitedBody, send: Send) -> None:
        """The app with the limited body; an answer before the body ended closes the
        connection (the rest of the body is never read)."""
        started = False

        async def send_closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not body.ended:
                    message["headers"] = [*message.get("headers", []), _CLOSE]
            await send(message)

        try:
            await self.app(scope, body, send_closing)
        except HTTPException as exc:  # from the body, read outside a route (a fast lane)
            if started or exc.status_code not in (408, 413):
                raise
            await _problem(exc.status_code, str(exc.detail))(scope, body, send_closing)
        finally:
            body.close()

    async def _principal(self, scope: Scope, path: str, method: str) -> Principal | Response:
        token = _bearer(scope["headers"])
        if token is None:
            return _unauthorized("a valid API key is required (Authorization: Bearer <key>)")
        fresh = method not in _SAFE and not path.startswith(self._cached_writes)
        if not fresh:
            try:  # a cached valid key: no query, no thread (the hot path)
                with warm.only_warm():
                    return self.container.auth.authenticate(token)
            except (warm.Cold, Unauthorized):
                pass
        source = scope["client"][0] if scope.get("client") else "unknown"
        return await to_thread.run_sync(self._check, token, source, fresh)

    def _check(self, token: str, source: str, fresh: bool) -> Principal | Response:
        """In the threadpool: the source's failures (maybe Redis), then the key (the
        cache, or the database)."""
        wait = self.failures.blocked_for(source)
        if wait > 0:
            response = _problem(
                429,
                "too many failed API keys from this address; retry later",
                code="too_many_auth_failures",
            )
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        try:
            return self.container.auth.authenticate(token, fresh=fresh)
        except Unauthorized as exc:
            self.failures.failed(source)
            return _unauthorized(exc.message)


def _route_path(scope: Scope) -> str:
    """The path as the router matches it (without the ``root_path``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key of the first ``Authorization`` header, as ``HTTPBearer`` reads it."""
    for name, value in headers:
        if name == b"authorization":
            scheme, token = get_authorization_scheme_param(value.decode("latin-1"))
            return token if scheme.lower() == "bearer" and token else None
    return None


def _problem(status: int, detail: str, *, code: str | None = None) -> Response:
    default = {408: "request_timeout", 413: "payload_too_large"}.get(status, "unauthorized")
    return problems.problem(status, code or default, detail)


def _unauthorized(detail: str) -> Response:
    response = _problem(401, detail)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _answer(
    response: Response, has_body: bool, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer without reading the body; close the connection if one was announced."""
    if has_body:
        response.headers["Connection"] = "close"
    await response(scope, receive, send)


def install(
    app: FastAPI,
    container: Container,
    prefix: str,
    public: frozenset[str],
    open_prefixes: tuple[str, ...] = (),
) -> None:
    """Put the guard in front of everything else of ``app`` (call it last)."""
    app.add_middleware(
        RequestGuard,
        container=container,
        prefix=prefix,
        public=public,
        open_prefixes=open_prefixes,
    )
