"""A fast lane for ``POST /api/v1/calls/authorize``: the plain case without FastAPI.

A switch asks "may this call go through?" thousands of times a second; routing,
dependency solving, validation plumbing and the response machinery cost more CPU than
the answer. This pure-ASGI layer answers the plain case itself and passes everything
else to the normal route, the body it has read replayed, so that every other answer
(401, 403, 404, 422, 503, 500, and whatever FastAPI writes for them) is the route's own.

The plain case is all of:

* no query string, no ``root_path``, ``content-type: application/json`` exactly and no
  ``\\u0000`` escape in the body (the route's NUL check could not refuse it);
* a Bearer key (parsed as ``HTTPBearer`` parses it) that :mod:`voxbill.api.auth`
  would check on the event loop (its cache surely has it) and that the key check
  accepts, for a role that drives calls (:func:`access.check_calls`);
* a body the route's own model (:class:`CallAuthorize`) validates as FastAPI does
  (``json.loads`` then ``validate_python(from_attributes=True)``), without ``at``;
* a caller that is not a card (a PIN is an argon2 hash: tens of ms), that the route's
  own tenancy check (:func:`voxbill.api.routers.calls._caller`) accepts and that it
  identifies (an unknown caller, or another tenant's, is the route's to answer).

The tenancy check and the decision (:meth:`ChargingService.authorize`) run in ONE
threadpool hop, as in the route: the decision reads balances (and, now and then, a
caller, a chain or a rate plan) from the database, and a read may wait (a pool
checkout, a PostgreSQL lock behind DDL, a round trip) — never on the event loop. The
lane's threads are few (:data:`THREADS`): fewer threads contend less for the GIL, and
the lane never takes the whole database pool. The answer is written by the route's own
:func:`model_response`: the same status, headers and bytes. Any exception on the way,
and any refusal of the checks above, hands the request over.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI
from fastapi.security.utils import get_authorization_scheme_param

from voxbill.api import auth
from voxbill.api.call_schemas import AuthorizationRead, CallAuthorize, caller_of
from voxbill.api.deps import model_response
from voxbill.api.routers.calls import _caller
from voxbill.bootstrap import Container
from voxbill.domain import access
from voxbill.services.charging import Authorization

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = "/api/v1/calls/authorize"
_JSON = b"application/json"
#: the lane's threads per process: enough to keep both CPUs busy between round trips,
#: few enough to contend little for the GIL, fewer than the database pool's connections
#: (SQLite 15, PostgreSQL 50) so that other requests always find one
THREADS = 6


class FastLane:
    """Pure-ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.container = container
        self._limiter: CapacityLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope.get("query_string")
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        body, ended = await _read_body(receive)
        if ended:
            try:
                answer = await self._answer(scope, body)
            except Exception:  # whatever it was, the route answers it (or fails) its way
                answer = None
            if answer is not None:
                await model_response(AuthorizationRead.of(answer))(scope, receive, send)
                return
        await self.app(scope, _replay(body, ended, receive), send)

    async def _answer(self, scope: Scope, body: bytes) -> Authorization | None:
        authorization: bytes | None = None
        content_type: bytes | None = None
        for name, value in scope["headers"]:  # the first of each, as Starlette reads them
            if name == b"authorization" and authorization is None:
                authorization = value
            elif name == b"content-type" and content_type is None:
                content_type = value
        if authorization is None or content_type != _JSON or b"\\u0000" in body:
            return None
        scheme, token = get_authorization_scheme_param(authorization.decode("latin-1"))
        if scheme.lower() != "bearer" or not token or not auth._loaded.fresh(token):
            return None  # a key not checked lately: the route reads it in the threadpool
        container = self.container
        principal = container.auth.authenticate(token)  # Unauthorized: the route's 401
        access.check_calls(principal)  # support, customer and user keys: the route's 403
        request = CallAuthorize.model_validate(json.loads(body), from_attributes=True)
        if request.at is not None:  # the route's rules for a chosen start: its own
            return None
        caller = caller_of(request.caller)
        if caller.card is not None:  # checked with its PIN (argon2): the route's
            return None

        def work() -> Authorization | None:
            pinned = _caller(container, principal, caller)  # NotFound: the route's 404
            if pinned.account_id is None:  # an unknown caller: the route answers it
                return None
            return container.charging.authorize(pinned, request.callee, None)

        return await to_thread.run_sync(work, limiter=self._threads())

    def _threads(self) -> CapacityLimiter:
        if self._limiter is None:  # made in the event loop's thread, on first use
            self._limiter = CapacityLimiter(THREADS)
        return self._limiter


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, and whether it ended (False: the client went away first)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, ended: bool, receive: Receive) -> Receive:
    """``receive`` for the normal route: the body read so far as one message, then the
    connection's own messages (after a disconnect, the disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": not ended}]
    if not ended:
        pending.append({"type": "http.disconnect"})

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def install(app: FastAPI, container: Container) -> None:
    """Put the lane in front of ``app``'s routes (inside its error middleware), unless
    the setting ``fast_lane`` is off."""
    if container.settings.fast_lane:
        app.add_middleware(FastLane, container=container)
