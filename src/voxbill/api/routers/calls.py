"""Calls over HTTP: authorize, start, update, stop — the same service every door uses.

Keys: admin and reseller, for callers in their subtree (a caller identified outside it
is ``unknown_caller``, exactly as an unknown one; an ``account_id`` outside it is 404);
support keys are read-only (403). Refusals of ``start`` are problem+json with ``code``
and ``reason``: 403 unknown_caller / invalid_pin / card_locked / blocked, 429
too_many_pin_failures, 402 insufficient_funds,
404 no_rate, 422 invalid_number / invalid_vendor, 429 concurrency_limit (a switch maps it
to SIP 486), 409 session_conflict (the session id names another call). Another
tenant's session is 404 with the same text as an unknown one. A start's ``vendor_id``
(admin keys only) gives the CDR its buy leg. A call starts at the server's time; ``at``
is accepted from admin keys only, within ``call_start_skew_seconds`` of it (else 422).
A card whose PIN cannot be checked now (this node's PIN checks are full) is 503
``pin_busy`` for authorize and start alike: no decision was made, retry.

Every legal Call-ID is addressable: the session id in ``/calls/{session_id}/update|stop``
is everything between ``/calls/`` and the last segment, after percent-decoding (the
server decodes the path before routing), so a ``/`` in it is sent as ``%2F`` (or as
is), a ``%`` as ``%25``, a ``?`` as ``%3F``; ``@``, ``:`` and the like as they are.
Keys of a blocked or suspended account may still update and stop calls in progress
(``access.check_settle``); they may not authorize or start new ones.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from voxbill.api.auth import CurrentPrincipal
from voxbill.api.call_schemas import (
    AuthorizationRead,
    CallAuthorize,
    CallStart,
    CallStop,
    CallUpdate,
    GrantRead,
    SettlementRead,
    caller_of,
)
from voxbill.api.deps import container_of, in_thread, model_response
from voxbill.api.problems import responses
from voxbill.bootstrap import Container
from voxbill.domain import access
from voxbill.domain.access import Principal
from voxbill.domain.errors import Forbidden, InvalidInput, NotFound
from voxbill.services.charging.service import (
    Authorization,
    CallerId,
    SessionGrant,
    SessionSettlement,
)

router = APIRouter(tags=["calls"])

SessionPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        description="session id, percent-encoded as one path segment (a `/` as `%2F`)",
    ),
]
REPLAYED = "Idempotent-Replayed"
_REPLAYED_HEADERS = {REPLAYED: "true"}


def _caller(container: Container, principal: Principal, caller: CallerId) -> CallerId:
    """The caller as the key may ask for it: an account id must be in the key's subtree
    (404 otherwise); anything else is identified by the service within the key's
    operator and subtree (a caller outside it is unknown, exactly as an unknown one, and
    a card's PIN is never checked there), its PIN guesses counted against the key."""
    access.check_calls(principal)
    if caller.account_id is not None:
        account = container.accounts.visible_recently(principal, caller.account_id)
        return replace(caller, account_id=account.id)
    asker = f"key:{principal.key_id}" if principal.key_id is not None else None
    return replace(caller, operator_id=principal.operator_id, within=principal.path, asker=asker)


def _start_time(container: Container, principal: Principal, at: datetime | None) -> None:
    """A call starts now, by the server's clock: prices by time of day must not be
    chosen by the client. Only an admin key may name the start, within the configured
    skew of the server's clock (a switch's clock a little off); else 422."""
    if at is None:
        return
    if principal.role is not access.Role.ADMIN:
        raise InvalidInput("only the operator's admin keys may set a call's start time")
    instant = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    skew = container.settings.call_start_skew_seconds
    if abs(instant - datetime.now(UTC)) > timedelta(seconds=skew):
        raise InvalidInput(f"a call's start time must be within {skew} s of the server's clock")


def _vendor(container: Container, principal: Principal, vendor_id: int | None) -> None:
    """Only the operator's admin names the carrier of a call, and only its own vendors
    (another operator's are not found); the service checks the rest."""
    if vendor_id is None:
        return
    if principal.role is not access.Role.ADMIN:
        raise Forbidden("only the operator's admin keys choose a call's vendor")
    container.accounts.visible(principal, vendor_id)


def _session(container: Container, principal: Principal, session_id: str) -> None:
    access.check_settle(principal)  # a blocked chain's calls in progress are still settled
    account_id = container.charging.session_account(session_id)
    if account_id is None:
        raise NotFound("call session not found")
    try:
        container.accounts.visible_recently(principal, account_id)
    except NotFound:  # another tenant's session reads exactly like an unknown one
        raise NotFound("call session not found") from None


def authorization(container: Container, principal: Principal, body: CallAuthorize) -> Authorization:
    """The authorize route's work, in the threadpool (the fast lane's too)."""
    caller = _caller(container, principal, caller_of(body.caller))
    return container.charging.authorize(caller, body.callee, body.at)


def started(container: Container, principal: Principal, body: CallStart) -> SessionGrant:
    """The start route's work, in the threadpool (the fast lane's too)."""
    caller = _caller(container, principal, caller_of(body.caller))
    _vendor(container, principal, body.vendor_id)
    return container.charging.start(
        body.session_id,
        caller,
        body.callee,
        body.at,
        interim=body.interim,
        vendor_id=body.vendor_id,
    )


def updated(
    container: Container, principal: Principal, session_id: str, body: CallUpdate
) -> SessionGrant:
    """The update route's work, in the threadpool (the fast lane's too)."""
    _session(container, principal, session_id)
    return container.charging.update(session_id, body.duration, request_number=body.request_number)


def stopped(
    container: Container, principal: Principal, session_id: str, body: CallStop
) -> SessionSettlement:
    """The stop route's work, in the threadpool (stop has no fast lane)."""
    _session(container, principal, session_id)
    return container.charging.stop(session_id, body.duration, request_number=body.request_number)


def start_response(grant: SessionGrant) -> Response:
    """201 for a new session; a retry's replayed grant is 200, flagged in a header."""
    if grant.replayed:
        return model_response(GrantRead.of(grant), headers=_REPLAYED_HEADERS)
    return model_response(GrantRead.of(grant), status_code=201)


def stop_response(settlement: SessionSettlement) -> Response:
    headers = _REPLAYED_HEADERS if settlement.replayed else None
    return model_response(SettlementRead.of(settlement), headers=headers)


@router.post(
    "/calls/authorize",
    response_model=AuthorizationRead,
    responses=responses(401, 403, 404, 422, 503),
)
async def authorize(body: CallAuthorize, principal: CurrentPrincipal, request: Request) -> Response:
    """May this call go through, for how long, at what price? Reserves nothing; a
    refusal is still 200, with ``allowed`` false and a ``reason``."""
    container = container_of(request)
    _start_time(container, principal, body.at)
    answer = await in_thread(lambda: authorization(container, principal, body))
    return model_response(AuthorizationRead.of(answer))


@router.post(
    "/calls",
    status_code=201,
    response_model=GrantRead,
    responses={
        200: {"description": "a retry of a started session: the first grant, replayed"},
        **responses(401, 402, 403, 404, 422, 429, 503),
    },
)
async def start(body: CallStart, principal: CurrentPrincipal, request: Request) -> Response:
    """Start a session: funds are held at every level of the caller's chain for
    ``max_duration`` (or, with ``interim``, for a first chunk extended by updates)."""
    container = container_of(request)
    _start_time(container, principal, body.at)
    return start_response(await in_thread(lambda: started(container, principal, body)))


@router.post(
    "/calls/{session_id:path}/update",
    response_model=GrantRead,
    responses=responses(401, 403, 404, 409, 422, 503),
)
async def update(
    session_id: SessionPath, body: CallUpdate, principal: CurrentPrincipal, request: Request
) -> Response:
    """Report the duration so far; the hold grows by a chunk as far as funds allow
    (``final``: no more after this grant)."""
    container = container_of(request)
    grant = await in_thread(lambda: updated(container, principal, session_id, body))
    return model_response(GrantRead.of(grant))


@router.post(
    "/calls/{session_id:path}/stop",
    response_model=SettlementRead,
    responses=responses(401, 403, 404, 422, 503),
)
async def stop(
    session_id: SessionPath, body: CallStop, principal: CurrentPrincipal, request: Request
) -> Response:
    """End the call: the duration is rated at every level and charged, the rest of the
    hold released, the CDR written. Stopping again replays the first settlement; a stop
    for a call the sweeper settled corrects its charge once (``corrected``)."""
    container = container_of(request)
    return stop_response(await in_thread(lambda: stopped(container, principal, session_id, body)))
