"""The sweeper's use case: settle every session whose hold expired, one transaction each.

A session that cannot settle (a failure in its own settle transaction) must never block
the others: its error and attempt count are recorded on the session, its expiry pushed
back (doubling, at most an hour), and the sweep goes on. Holds that no session owns at
all (their session never committed, or a hold placed outside charging) are released by a
backstop once expired; a session's holds are only ever settled by the session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from voxbill.domain import charging as rules
from voxbill.domain.sessions import ChargingSession
from voxbill.services.ledger import holds_close as ledger_holds
from voxbill.services.ledger.journal import Journal

log = logging.getLogger("voxbill.sweeper")
T = TypeVar("T")
Transactional = Callable[[Callable[[Journal], T]], T]
SettleSession = Callable[[Journal, ChargingSession], None]


def sweep(
    transaction: Transactional[Any], settle_session: SettleSession, now: datetime, limit: int
) -> int:
    """Settle up to ``limit`` expired sessions; returns how many were settled."""
    settled = 0
    for _ in range(limit):
        outcome = _settle_next(transaction, settle_session, now)
        if outcome is None:
            break
        settled += outcome
    return settled


def _settle_next(
    transaction: Transactional[Any], settle_session: SettleSession, now: datetime
) -> int | None:
    """1 if the oldest expired session was settled, 0 if it failed and was put back,
    None when no session is due."""
    claimed: list[str] = []

    def settle_one(journal: Journal) -> bool:
        session = journal.tx.sessions.claim_expired(now)
        if session is None:
            return False
        claimed.append(session.session_id)
        settle_session(journal, session)
        return True

    try:
        return 1 if transaction(settle_one) else None
    except Exception as exc:
        if not claimed:
            raise  # not a session's fault (e.g. the database is down): stop here
        session_id, error = claimed[-1], exc
        log.exception("sweeper could not settle session %r; retrying later", session_id)
        transaction(lambda journal: _defer(journal, session_id, error, now))
        return 0


def _defer(journal: Journal, session_id: str, error: Exception, now: datetime) -> None:
    sessions = journal.tx.sessions
    session = sessions.session(session_id, lock=True)
    if session is None or not session.is_open:
        return  # settled meanwhile by a stop
    attempts = session.sweep_attempts + 1
    sessions.update_session(
        session_id,
        sweep_attempts=attempts,
        sweep_error=f"{type(error).__name__}: {error}"[:2000],
        expires_at=now + timedelta(seconds=rules.sweep_retry_delay(attempts)),
        updated_at=journal.now,
    )


def release_orphan_holds(journal: Journal, now: datetime, limit: int) -> int:
    """Release expired holds that no session owns; returns how many."""
    orphans = journal.tx.sessions.orphan_holds
    return ledger_holds.expire(journal, now, limit, claim=lambda _, at, most: orphans(at, most))
