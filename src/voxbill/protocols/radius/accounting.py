"""Accounting-Request Start / Interim-Update / Stop → the charging session.

RADIUS accounting cannot refuse, and a NAS retransmits until it is answered. So
:meth:`AccountingHandler.record` returns only once the change is committed (then the
server answers), and raises when it is not (no answer: the NAS retries). Business
outcomes are acknowledged and logged:

* Start refused (no funds, blocked, concurrency…): no session is opened, nothing is
  held; logged as a warning.
* Stop or Interim-Update for a session voxbill does not know (its Start was lost or
  refused): the session is started from this record (rated from the call's start, the
  event time less Acct-Session-Time), then updated or stopped, so the call that
  happened is charged; if charging refuses it again, it is logged as unbillable.
* Retransmissions and crossing duplicates are harmless: charging is idempotent by
  session id (a second Stop replays the first settlement).

Scoped to the client's operator: callers are looked up among its identifiers only, and
an Interim-Update or Stop for a session that belongs to another operator is
acknowledged and changes nothing (:mod:`voxbill.protocols.session_scope`). Wire values
in log lines go through :func:`~voxbill.protocols.log_safe.printable`.

Sessions are started with their whole grant held (``interim=False``): the
Access-Accept already granted the gateway its full Session-Timeout, which it will not
ask to extend, so the hold must cover it. Interim-Updates record usage so far.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pyrad.packet import StatusServer

from voxbill.domain.errors import Conflict, InvalidInput, NotFound, Refused
from voxbill.protocols.log_safe import printable
from voxbill.protocols.radius import card_class
from voxbill.protocols.radius.attributes import AccountingRecord, AcctStatus, accounting_record
from voxbill.protocols.radius.clients import RadiusClient
from voxbill.protocols.radius.codec import Request
from voxbill.protocols.radius.port import Charging
from voxbill.protocols.session_scope import SessionScope, open_scope
from voxbill.services.charging.service import CallerId

log = logging.getLogger(__name__)

#: Outcomes a retransmission cannot change: acknowledge them.
_SETTLED_OUTCOMES = (Refused, NotFound, Conflict, InvalidInput)


class AccountingHandler:
    def __init__(
        self,
        charging: Charging,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scope: SessionScope | None = None,
    ) -> None:
        self._charging = charging
        self._clock = clock
        self._scope = scope or open_scope()

    def record(self, request: Request, client: RadiusClient) -> None:
        """Apply one Accounting-Request; raises if the change was not durably recorded."""
        if request.packet.code == StatusServer:
            return
        operator_id = client.operator_id
        record = accounting_record(request.packet, received=self._clock(), operator_id=operator_id)
        if record.session_id is None:
            log.warning("RADIUS accounting %s without Acct-Session-Id ignored", record.status)
            return
        if record.status in (AcctStatus.INTERIM, AcctStatus.STOP) and not self._scope.allows(
            record.session_id, operator_id
        ):
            log.warning(
                "RADIUS accounting %s for session %s of another operator (client %s): "
                "acknowledged, not charged",
                record.status.value,
                printable(record.session_id),
                client.network,
            )
            return
        caller = _card_caller(request, client) or record.caller
        try:
            if record.status is AcctStatus.START:
                self._charging.start(
                    record.session_id, caller, record.callee, record.event_time, interim=False
                )
                self._scope.remember(record.session_id, operator_id)
            elif record.status is AcctStatus.INTERIM:
                self._update(record, caller)
            elif record.status is AcctStatus.STOP:
                self._stop(record, caller)
            else:
                log.info("RADIUS accounting %s acknowledged", record.status.value)
        except _SETTLED_OUTCOMES as exc:
            log.warning(
                "RADIUS accounting %s for session %s: %s (%s); acknowledged, not charged",
                record.status.value,
                printable(record.session_id),
                printable(str(exc)),
                exc.code,
            )

    def _update(self, record: AccountingRecord, caller: CallerId) -> None:
        assert record.session_id is not None
        try:
            self._charging.update(record.session_id, record.duration)
        except NotFound as exc:
            if exc.code != "unknown_session":
                raise
            self._recover(record, caller)
            self._charging.update(record.session_id, record.duration)

    def _stop(self, record: AccountingRecord, caller: CallerId) -> None:
        assert record.session_id is not None
        try:
            self._charging.stop(record.session_id, record.duration)
        except NotFound as exc:
            if exc.code != "unknown_session":
                raise
            self._recover(record, caller)
            self._charging.stop(record.session_id, record.duration)

    def _recover(self, record: AccountingRecord, caller: CallerId) -> None:
        """Open the session a lost or refused Start did not open."""
        assert record.session_id is not None
        started = (record.event_time or self._clock()) - timedelta(seconds=record.duration)
        log.warning(
            "RADIUS session %s unknown at %s: starting it late",
            printable(record.session_id),
            record.status.value,
        )
        self._charging.start(record.session_id, caller, record.callee, started, interim=False)
        self._scope.remember(record.session_id, caller.operator_id)


def _card_caller(request: Request, client: RadiusClient) -> CallerId | None:
    """The card + PIN sealed into ``Class`` by the Access-Accept, if any: an authorized
    call's, so not counted as a PIN guess nor refused by a lockout that came later."""
    for value in request.packet.get("Class") or ():
        if isinstance(value, bytes) and (opened := card_class.unseal(value, client.secret)):
            return CallerId(
                card=opened[0], pin=opened[1], operator_id=client.operator_id, pin_sealed=True
            )
    return None
