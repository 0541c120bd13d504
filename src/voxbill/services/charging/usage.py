"""A call's usage reports: an update extends its grant, a stop settles it (or corrects
the sweeper's settlement: :mod:`~voxbill.services.charging.correct`). Each is idempotent
by request number (a retransmission replays the current answer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from voxbill.domain import charging as rules
from voxbill.domain.charging_decision import TariffOf
from voxbill.domain.errors import Conflict, InvalidInput, NotFound
from voxbill.domain.sessions import ChargingSession, SessionLevel
from voxbill.services.charging import fraud
from voxbill.services.charging.answers import grant_of, settlement
from voxbill.services.charging.correct import correct_in
from voxbill.services.charging.results import SessionGrant, SessionSettlement
from voxbill.services.charging.settle import session_tariffs, settle
from voxbill.services.charging.start import HOLD_BACKSTOP
from voxbill.services.ledger import holds_close as ledger_holds
from voxbill.services.ledger.journal import Journal
from voxbill.services.unit_of_work import Transaction
from voxbill.settings import Settings


@dataclass(frozen=True)
class Usage:
    """A usage report: seconds since the call's start, or since the last report."""

    value: int
    delta: bool

    def total(self, stored: int) -> int:
        return stored + self.value if self.delta else self.value


def usage_report(used_seconds: int | None, used_delta: int | None, settings: Settings) -> Usage:
    if (used_seconds is None) == (used_delta is None):
        raise InvalidInput("give either the usage since the start or since the last report")
    value = used_seconds if used_seconds is not None else used_delta
    assert value is not None
    if not 0 <= value <= settings.max_call_duration * 6:
        raise InvalidInput("used seconds out of range")
    return Usage(value, delta=used_delta is not None)


def update_in(
    journal: Journal,
    session_id: str,
    report: Usage,
    request_number: int | None,
    *,
    tariff_of: TariffOf,
    settings: Settings,
) -> SessionGrant:
    """The update step inside its transaction (see :meth:`ChargingService.update`)."""
    tx = journal.tx
    session = _locked_session(tx, session_id)
    if not session.is_open:
        raise Conflict(f"session {session_id!r} is already settled", code="session_settled")
    last = session.request_number
    if _already_counted(session, request_number):
        return grant_of(journal, session, replayed=True)
    used = report.total(session.used_seconds)
    if used < session.used_seconds:
        return grant_of(journal, session, replayed=True)
    granted, longest = session.granted_seconds, session.max_duration
    holds = tx.holds.holds_by_reference(session_id, lock=True) if session.interim else []
    if session.interim:
        granted, longest = _extend(journal, session, used, holds, tariff_of, settings)
    # anchored on the session's opening, never on the report: updates that report no
    # usage cannot keep a session (and its holds) open past its grant
    expires_at = session.created_at + timedelta(
        seconds=granted + settings.hold_expiry_slack_seconds
    )
    if session.interim:
        tariffs = session_tariffs(session, tariff_of, tx)
        ledger_holds.extend_locked(
            journal,
            holds,
            [rules.hold_amount(t.cost(granted)) for t in tariffs],
            expires_at + HOLD_BACKSTOP,
        )
        fraud.extended(tx, session, tariffs, granted)
    request_number = request_number if request_number is not None else last
    tx.sessions.update_session(
        session_id,
        used_seconds=used,
        request_number=request_number,
        granted_seconds=granted,
        max_duration=longest,
        expires_at=expires_at,
        updated_at=journal.now,
        reported_at=journal.now,
    )
    updated = replace(
        session,
        used_seconds=used,
        request_number=request_number,
        granted_seconds=granted,
        max_duration=longest,
        expires_at=expires_at,
        updated_at=journal.now,
        reported_at=journal.now,
    )
    return grant_of(journal, updated, replayed=False)


def stop_in(
    journal: Journal,
    session_id: str,
    report: Usage,
    request_number: int | None,
    *,
    tariff_of: TariffOf,
) -> SessionSettlement:
    """The stop step inside its transaction (see :meth:`ChargingService.stop`)."""
    # the session's row and its holds', locked together (the system's order)
    session, holds = journal.tx.sessions.session_and_holds(session_id)
    if session is None:
        raise NotFound(f"no call session {session_id!r}", code="unknown_session")
    duration = report.value
    if report.delta:
        counted = _already_counted(session, request_number)
        duration = session.used_seconds if counted else report.total(session.used_seconds)
    if not session.is_open:  # a replay, or a stop after the sweeper: its correction
        return correct_in(journal, session, holds, duration, tariff_of=tariff_of)
    cdr_id, ratings, overrun = settle(
        journal, session, duration, tariff_of=tariff_of, settled_by="stop", holds=holds
    )
    return settlement(journal, session, duration, cdr_id, ratings[0], overrun)


def _extend(
    journal: Journal,
    session: ChargingSession,
    used: int,
    holds: Sequence[Any],
    tariff_of: TariffOf,
    settings: Settings,
) -> tuple[int, int]:
    """(new total grant, longest the call may now last) for an interim session whose
    hold rows (``holds``) are locked."""
    levels = session.levels
    books = [journal.account_book(lv.account_id) for lv in levels]
    journal.lock(books)
    tariffs = session_tariffs(session, tariff_of, journal.tx)
    headrooms = {book: journal.funds(book).headroom() for book in books}
    for book, hold in zip(books, holds, strict=True):
        headrooms[book] += hold.amount  # this session's own hold is its to spend
    longest = session.cap
    for lv, book, tariff in zip(levels, books, tariffs, strict=True):
        longest = min(longest, tariff.max_duration(_budget(lv, headrooms[book]), session.cap))
    longest = rules.fit_shared_books(longest, books, [t.cost for t in tariffs], headrooms)
    longest = fraud.extension_bound(journal.tx, session, tariffs, longest)
    target = min(used + settings.grant_chunk_seconds, longest)
    return max(session.granted_seconds, target), max(longest, session.granted_seconds)


def _budget(level: SessionLevel, headroom: Decimal) -> Decimal:
    return headroom if level.max_cost is None else min(headroom, level.max_cost)


def _already_counted(session: ChargingSession, request_number: int | None) -> bool:
    """Whether a report with this request number was applied already (a retransmission)."""
    last = session.request_number
    return request_number is not None and last is not None and request_number <= last


def _locked_session(tx: Transaction, session_id: str) -> ChargingSession:
    found = tx.sessions.session(session_id, lock=True)
    if found is None:
        raise NotFound(f"no call session {session_id!r}", code="unknown_session")
    return found
