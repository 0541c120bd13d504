"""Gy credit control: a read CCR → the charging (or messaging) service → a result.

CCR-I starts an interim session (a chunk is granted), CCR-U reports usage and extends
it, CCR-T stops it at the total reported usage, CCR-Event with DIRECT_DEBITING charges
one message of CC-Service-Specific-Units segments. Used-Service-Unit is a delta since the
last report: charging adds it to the session's stored usage, keyed by CC-Request-Number,
so any node can answer any request of a session and a retransmission never adds twice.
Refusals become Result-Codes through :mod:`voxbill.outcomes`, the one table
every door shares.

Every request is handled for the operator of the peer that sent it: its caller is
looked up among that operator's identifiers, its messages are sent as that operator,
and a CCR-U or CCR-T naming another operator's session is answered as an unknown
session (5002), changing nothing (:mod:`voxbill.protocols.session_scope`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Protocol

from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import root_path
from voxbill.domain.errors import InvalidInput, VoxbillError
from voxbill.outcomes import DIAMETER_SUCCESS, DIAMETER_UNABLE_TO_COMPLY, refusal_for
from voxbill.protocols.session_scope import SessionScope, open_scope
from voxbill.services.charging.service import (
    CallerId,
    ChargingRefused,
    SessionGrant,
    SessionSettlement,
)

if TYPE_CHECKING:
    from voxbill.services.messaging.messages import MessageReceipt, MessageRequest
from .requests import GyRequest, RequestType
from .sessions import SessionBook
from .wire import INVALID_AVP_VALUE, MISSING_AVP

log = logging.getLogger(__name__)

DIAMETER_CREDIT_LIMIT_REACHED: Final = refusal_for("insufficient_funds").diameter_result
DIRECT_DEBITING: Final = 0
#: GSM-7 segments of a synthetic body: Diameter carries units, messaging reads text.
_SINGLE, _PART = 160, 153


class Charging(Protocol):
    def start(
        self,
        session_id: str,
        caller: CallerId,
        callee: str,
        at: datetime | None = None,
        *,
        interim: bool = False,
    ) -> SessionGrant: ...

    def update(
        self,
        session_id: str,
        used_seconds: int | None = None,
        *,
        used_delta: int | None = None,
        request_number: int | None = None,
    ) -> SessionGrant: ...

    def stop(
        self,
        session_id: str,
        duration: int | None = None,
        *,
        used_delta: int | None = None,
        request_number: int | None = None,
        at: datetime | None = None,
    ) -> SessionSettlement: ...


class Messaging(Protocol):
    def send(self, principal: Principal, request: MessageRequest) -> MessageReceipt: ...


@dataclass(frozen=True, slots=True)
class GyResult:
    """What a CCA says, before it is coded."""

    result_code: int
    granted_seconds: int | None = None
    granted_units: int | None = None
    validity_time: int | None = None
    final: bool = False
    cost: Decimal | None = None
    currency: str | None = None
    error_message: str | None = None


def _failure(exc: Exception) -> GyResult:
    if isinstance(exc, ChargingRefused):
        return GyResult(refusal_for(exc.reason).diameter_result, error_message=exc.reason)
    if isinstance(exc, InvalidInput):
        return GyResult(INVALID_AVP_VALUE, error_message=exc.message)
    if isinstance(exc, VoxbillError):
        return GyResult(refusal_for(exc.code).diameter_result, error_message=exc.code)
    log.exception("Gy request failed")
    return GyResult(DIAMETER_UNABLE_TO_COMPLY, error_message="internal error")


def _final(result: GyResult) -> bool:
    """Whether a retransmission must get this answer again (transient failures: no)."""
    return not 3000 <= result.result_code < 4000 and result.result_code != DIAMETER_UNABLE_TO_COMPLY


def message_body(segments: int) -> str:
    """A GSM-7 text of exactly ``segments`` segments (Diameter carries no text)."""
    return "." if segments <= 1 else "." * (_PART * segments)


class GyHandler:
    """Synchronous (service calls block on the database): run it in a worker thread."""

    def __init__(
        self,
        charging: Charging,
        messaging: Messaging | None = None,
        *,
        scope: SessionScope | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        book: SessionBook[GyResult] | None = None,
    ) -> None:
        self._charging = charging
        self._messaging = messaging
        self._scope = scope or open_scope()
        self._clock = clock
        self.book: SessionBook[GyResult] = book or SessionBook()

    def handle(self, request: GyRequest, operator_id: int | None = None) -> GyResult:
        """The answer to a request from a peer of ``operator_id``; a retransmitted one
        gets its first answer again."""
        key = request.session_id, request.request_number, operator_id
        with self.book.serialized(request.session_id):
            known = self.book.answered(*key)
            if known is not None:
                return known
            try:
                result = self._dispatch(request, operator_id)
            except Exception as exc:  # every failure is an answer, never a dropped peer
                return _failure(exc)
            if _final(result):
                self.book.remember(request.session_id, request.request_number, result, operator_id)
            return result

    def _dispatch(self, request: GyRequest, operator_id: int | None) -> GyResult:
        if request.request_type is RequestType.INITIAL:
            return self._initial(request, operator_id)
        if request.request_type is RequestType.EVENT:
            return self._event(request, operator_id)
        if not self._scope.allows(request.session_id, operator_id):
            refusal = refusal_for("unknown_session")
            return GyResult(refusal.diameter_result, error_message=refusal.reason)
        if request.request_type is RequestType.UPDATE:
            return self._update(request)
        return self._terminate(request)

    def _initial(self, request: GyRequest, operator_id: int | None) -> GyResult:
        if not request.callee:
            return GyResult(MISSING_AVP, error_message="Called-Party-Address is missing")
        caller = CallerId(
            ani=request.caller.ani, sip_user=request.caller.sip_user, operator_id=operator_id
        )
        grant = self._charging.start(request.session_id, caller, request.callee, interim=True)
        self._scope.remember(request.session_id, operator_id)
        return self._granted(grant)

    def _update(self, request: GyRequest) -> GyResult:
        grant = self._charging.update(
            request.session_id,
            used_delta=request.used_seconds,
            request_number=request.request_number,
        )
        if grant.granted_seconds <= 0:
            return GyResult(DIAMETER_CREDIT_LIMIT_REACHED, final=True, error_message="no credit")
        return self._granted(grant)

    def _terminate(self, request: GyRequest) -> GyResult:
        settled = self._charging.stop(
            request.session_id,
            used_delta=request.used_seconds,
            request_number=request.request_number,
        )
        return GyResult(DIAMETER_SUCCESS, cost=settled.cost, currency=settled.currency)

    def _event(self, request: GyRequest, operator_id: int | None) -> GyResult:
        action = request.requested_action
        if action not in (None, DIRECT_DEBITING):
            return GyResult(INVALID_AVP_VALUE, error_message="only DIRECT_DEBITING is supported")
        if self._messaging is None or operator_id is None:
            return GyResult(DIAMETER_UNABLE_TO_COMPLY, error_message="messages not configured")
        sender, recipient = request.caller.ani, request.callee
        if not sender or not recipient:
            return GyResult(MISSING_AVP, error_message="a sender E.164 and a recipient")
        segments = request.requested_units or 1
        if not 1 <= segments <= 255:
            return GyResult(INVALID_AVP_VALUE, error_message="1 to 255 segments")
        number = request.request_number
        message_id = request.session_id if number == 0 else f"{request.session_id};{number}"
        from voxbill.services.messaging.messages import MessageRequest

        principal = Principal(operator_id, root_path(operator_id), Role.ADMIN)
        receipt = self._messaging.send(
            principal, MessageRequest(message_id, sender, recipient, message_body(segments))
        )
        return GyResult(
            DIAMETER_SUCCESS,
            granted_units=receipt.segments,
            cost=receipt.cost,
            currency=receipt.currency,
        )

    def _granted(self, grant: SessionGrant) -> GyResult:
        validity = (grant.expires_at - self._clock()).total_seconds()
        return GyResult(
            DIAMETER_SUCCESS,
            granted_seconds=grant.granted_seconds,
            validity_time=max(int(validity), 1),
            final=grant.final,
        )
