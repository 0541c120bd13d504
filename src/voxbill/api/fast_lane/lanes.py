"""The lanes: which requests each endpoint's lane takes, and the route's own work.

Authorize, start and update have a lane; stop has none (issue 11: its lane saved about
11 % of the server's CPU per stop, under the 15 % a lane must pay; docs/benchmarks.md).

A lane is the route minus FastAPI: the route's body model, the route's work function
(its checks and the service call, exported by :mod:`voxbill.api.routers.calls`) and
the route's response. What a lane adds is only a refusal to take a request the route
would treat specially: ``at`` (the route's start-time rules), ``vendor_id`` (its vendor
check), a card caller (a PIN is an argon2 hash: tens of ms in the lane's few threads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from pydantic import BaseModel

from voxbill.api.call_schemas import (
    AuthorizationRead,
    CallAuthorize,
    CallStart,
    CallUpdate,
    GrantRead,
)
from voxbill.api.deps import model_response
from voxbill.api.routers import calls
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal

PREFIX = "/api/v1/calls"
#: a session id in the path, as the route's ``SessionPath`` takes it
SESSION_ID_MAX = 200

Answer = Callable[[Container, Principal, Any, str], Response]


@dataclass(frozen=True)
class Lane:
    """One endpoint's plain case: the route's body model; whether a valid body is plain;
    the route's work and response, run in the lane's thread (the session id: from the
    path, or '' when it is in the body)."""

    body: type[BaseModel]
    plain: Callable[[Any], bool]
    answer: Answer


def _plain_call(body: CallAuthorize) -> bool:
    caller = body.caller
    return body.at is None and (isinstance(caller, str) or caller.card is None)


def _plain_start(body: CallStart) -> bool:
    return body.vendor_id is None and _plain_call(body)


def _always(_body: Any) -> bool:
    return True


def _authorize(c: Container, p: Principal, body: CallAuthorize, _sid: str) -> Response:
    return model_response(AuthorizationRead.of(calls.authorization(c, p, body)))


def _start(c: Container, p: Principal, body: CallStart, _sid: str) -> Response:
    return calls.start_response(calls.started(c, p, body))


def _update(c: Container, p: Principal, body: CallUpdate, session_id: str) -> Response:
    return model_response(GrantRead.of(calls.updated(c, p, session_id, body)))


AUTHORIZE = Lane(CallAuthorize, _plain_call, _authorize)
START = Lane(CallStart, _plain_start, _start)
UPDATE = Lane(CallUpdate, _always, _update)

_EXACT = {PREFIX: START, f"{PREFIX}/authorize": AUTHORIZE}
_STEPS = {"update": UPDATE}
_SESSIONS = f"{PREFIX}/"


def lane_for(path: str) -> tuple[Lane, str] | None:
    """The lane of a POST to ``path`` (as Starlette routes it: already percent-decoded)
    and the session id in it, as the routes' ``{session_id:path}`` takes it: everything
    between ``/calls/`` and the last segment, slashes included; None: the route's."""
    exact = _EXACT.get(path)
    if exact is not None:
        return exact, ""
    head, _, step = path.rpartition("/")
    lane = _STEPS.get(step)
    if lane is None or not head.startswith(_SESSIONS):
        return None
    session_id = head[len(_SESSIONS) :]
    if not 0 < len(session_id) <= SESSION_ID_MAX or "\x00" in session_id:
        return None  # the route's 422 (length) or its NUL check's
    return lane, session_id
