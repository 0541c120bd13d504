"""A call's usage reports: an update extends its grant, a stop settles it. Each is
idempotent by request number (a retransmission replays the current answer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from voxbill.domain import charging as rules
from voxbill.domain.charging import SessionStatus
from voxbill.domain.errors import Conflict, InvalidInput, NotFound
from voxbill.services.charging.answers import grant_of, settled, settlement
from voxbill.services.charging.decision import TariffOf
from voxbill.services.charging.results import SessionGrant, SessionSettlement
from voxbill.services.charging.settle import levels_of, session_tariffs, settle
from voxbill.services.charging.start import HOLD_BACKSTOP
from voxbill.services.ledger import holds_close as ledger_holds
from voxbill.services.ledger.journal import Journal
from voxbill.settings import Settings
from voxbill.storage.charging import sessions as repo
from voxbill.storage.ledger.holds import holds_by_reference


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
    conn = journal.conn
    row = _locked_session(conn, session_id)
    if row.status != SessionStatus.OPEN.value:
        raise Conflict(f"session {session_id!r} is already settled", code="session_settled")
    last = row.request_number
    if _already_counted(row, request_number):
        return grant_of(journal, row, replayed=True)
    used = report.total(row.used_seconds)
    if used < row.used_seconds:
        return grant_of(journal, row, replayed=True)
    granted, longest = row.granted_seconds, row.max_duration
    holds = holds_by_reference(conn, session_id, lock=True) if row.interim else []
    if row.interim:
        granted, longest = _extend(journal, row, used, holds, tariff_of, settings)
    # anchored on the session's opening, never on the report: updates that report no
    # usage cannot keep a session (and its holds) open past its grant
    expires_at = row.created_at + timedelta(seconds=granted + settings.hold_expiry_slack_seconds)
    if row.interim:
        tariffs = session_tariffs(row, tariff_of, journal.conn)
        ledger_holds.extend_locked(
            journal,
            holds,
            [rules.hold_amount(t.cost(granted)) for t in tariffs],
            expires_at + HOLD_BACKSTOP,
        )
    changes = {
        "used_seconds": used,
        "request_number": request_number if request_number is not None else last,
        "granted_seconds": granted,
        "max_duration": longest,
        "expires_at": expires_at,
        "updated_at": journal.now,
    }
    repo.update_session(conn, session_id, **changes)
    return grant_of(journal, row._replace(**changes), replayed=False)


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
    row, holds = repo.session_and_holds(journal.conn, session_id)
    if row is None:
        raise NotFound(f"no call session {session_id!r}", code="unknown_session")
    if row.status != SessionStatus.OPEN.value:
        return settled(journal, row)
    duration = report.value
    if report.delta:
        counted = _already_counted(row, request_number)
        duration = row.used_seconds if counted else report.total(row.used_seconds)
    cdr_id, ratings, overrun = settle(
        journal, row, duration, tariff_of=tariff_of, settled_by="stop", holds=holds
    )
    return settlement(journal, row, duration, cdr_id, ratings[0], overrun)


def _extend(
    journal: Journal,
    row: Any,
    used: int,
    holds: Sequence[Any],
    tariff_of: TariffOf,
    settings: Settings,
) -> tuple[int, int]:
    """(new total grant, longest the call may now last) for an interim session whose
    hold rows (``holds``) are locked."""
    levels = levels_of(row)
    books = [journal.account_book(lv["account_id"]) for lv in levels]
    journal.lock(books)
    tariffs = session_tariffs(row, tariff_of, journal.conn)
    headrooms = {book: journal.funds(book).headroom() for book in books}
    for book, hold in zip(books, holds, strict=True):
        headrooms[book] += hold.amount  # this session's own hold is its to spend
    longest = row.cap
    for lv, book, tariff in zip(levels, books, tariffs, strict=True):
        longest = min(longest, tariff.max_duration(_budget(lv, headrooms[book]), row.cap))
    longest = rules.fit_shared_books(longest, books, [t.cost for t in tariffs], headrooms)
    target = min(used + settings.grant_chunk_seconds, longest)
    return max(row.granted_seconds, target), max(longest, row.granted_seconds)


def _budget(level: dict[str, Any], headroom: Decimal) -> Decimal:
    cap = level.get("max_cost")
    return headroom if cap is None else min(headroom, Decimal(cap))


def _already_counted(row: Any, request_number: int | None) -> bool:
    """Whether a report with this request number was applied already (a retransmission)."""
    last = row.request_number
    return request_number is not None and last is not None and request_number <= last


def _locked_session(conn: Connection, session_id: str) -> Any:
    row = repo.session(conn, session_id, lock=True)
    if row is None:
        raise NotFound(f"no call session {session_id!r}", code="unknown_session")
    return row
