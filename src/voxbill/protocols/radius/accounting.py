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
from voxbill.protocols.radius import card_class
from voxbill.protocols.radius.attributes import AccountingRecord, AcctStatus, accounting_record
from voxbill.protocols.radius.codec import Request
from voxbill.protocols.radius.port import Charging
from voxbill.services.charging import CallerId

log = logging.getLogger(__name__)

#: Outcomes a retransmission cannot change: acknowledge them.
_SETTLED_OUTCOMES = (Refused, NotFound, Conflict, InvalidInput)


class AccountingHandler:
    def __init__(
        self, charging: Charging, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._charging = charging
        self._clock = clock

    def record(self, request: Request, secret: bytes) -> None:
        """Apply one Accounting-Request; raises if the change was not durably recorded."""
        if request.packet.code == StatusServer:
            return
        record = accounting_record(request.packet, received=self._clock())
        if record.session_id is None:
            log.warning("RADIUS accounting %s without Acct-Session-Id ignored", record.status)
            return
        caller = _card_caller(request, secret) or record.caller
        try:
            if record.status is AcctStatus.START:
                self._charging.start(
                    record.session_id, caller, record.callee, record.event_time, interim=False
                )
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
                record.session_id,
                exc,
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
            record.session_id,
            record.status.value,
        )
        self._charging.start(record.session_id, caller, record.callee, started, interim=False)


def _card_caller(request: Request, secret: bytes) -> CallerId | None:
    """The card + PIN sealed into ``Class`` by the Access-Accept, if any."""
    for value in request.packet.get("Class") or ():
        if isinstance(value, bytes) and (opened := card_class.unseal(value, secret)):
            return CallerId(card=opened[0], pin=opened[1])
    return None
