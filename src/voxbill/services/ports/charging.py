"""What charging needs from storage: call sessions, their open-call counters and the
balances ``authorize`` reads, and CDRs.

Protocols only: ``voxbill.storage`` implements them and ``bootstrap`` wires them
(through the unit of work, :mod:`voxbill.services.unit_of_work`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from voxbill.domain.accounts import Account, AccountKind
from voxbill.domain.cdrs import Cdr, CdrLeg
from voxbill.domain.dashboard import Margin, RolledCdr, Rollup, TrafficPoint
from voxbill.domain.holds import HoldRecord
from voxbill.domain.sessions import ChargingSession

#: A session column's new value (:meth:`SessionRepository.update_session`).
SessionChange = int | str | datetime | None


class SessionRepository(Protocol):
    def chain(
        self, account_id: int, *, ancestors: Sequence[int] = (), share: bool = False
    ) -> list[Account]:
        """The account and its ancestors, caller first ([] if unknown); ``ancestors``: a
        guess (ids, root first) that saves queries; ``share``: locked FOR SHARE."""
        ...

    def chain_unless_started(
        self, session_id: str, account_id: int, *, ancestors: Sequence[int]
    ) -> list[Account] | None:
        """``chain(share=True)``, or None when the session exists already."""
        ...

    def session(self, session_id: str, *, lock: bool) -> ChargingSession | None: ...

    def session_and_holds(self, session_id: str) -> tuple[ChargingSession | None, list[HoldRecord]]:
        """A session and its hold rows by level, all locked (the system's order)."""
        ...

    def insert_session(self, new: ChargingSession) -> None: ...

    def update_session(self, session_id: str, **values: SessionChange) -> None:
        """Set these columns of a session (``status``: a ``SessionStatus`` value)."""
        ...

    def claim_expired(self, now: datetime) -> ChargingSession | None:
        """One open session past its expiry, locked (others' locked ones skipped)."""
        ...

    def orphan_holds(self, now: datetime, limit: int) -> list[HoldRecord]:
        """Open expired hold rows that no session owns, locked (others' skipped)."""
        ...

    def lock_counters(self, account_ids: Iterable[int]) -> dict[int, int]:
        """Open calls per account, counters locked in ascending order (made at 0)."""
        ...

    def add_open_calls(self, account_ids: Iterable[int], delta: int) -> None: ...

    def open_calls(self, account_ids: Iterable[int]) -> dict[int, int]:
        """Open calls per account, unlocked (``authorize``)."""
        ...

    def balances(self, owner_ids: Iterable[int]) -> dict[int, tuple[Decimal, Decimal]]:
        """(balance, reserved) of these balance owners' books, unlocked, one query; an
        owner without a book is missing."""
        ...

    def open_sessions_under(self, path: str) -> int:
        """How many open sessions the callers of the subtree at ``path`` have."""
        ...


class CdrRepository(Protocol):
    def insert_cdr(self, cdr: Cdr, *, path: str, settles: bool = False) -> int:
        """A new CDR with its legs (its ``id`` ignored), under the caller's account
        ``path``; its id. ``settles``: its session is settled with it (``used_seconds``
        its duration unless the sweeper settled it, ``settled_at`` its ``created_at``,
        ``cdr_id`` the new id)."""
        ...

    def by_session(self, session_id: str) -> Cdr | None:
        """A session's CDR, without its legs."""
        ...

    def correct(self, cdr: Cdr) -> None:
        """A late stop's correction of the sweeper's CDR ``cdr.id`` and its legs (matched
        by level and side): its duration, costs, margins, ``corrected_at`` and ``swept_*``
        values; a CDR corrected already is left as it is."""
        ...

    def legs_of(self, cdr_ids: Sequence[int]) -> dict[int, list[CdrLeg]]: ...

    def page(
        self,
        *,
        path: str,
        started_from: datetime | None,
        started_to: datetime | None,
        number: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[Cdr]:
        """CDRs of the subtree at ``path``, with their legs, newest first."""
        ...

    # -- the dashboard's per-minute roll-up (docs/portal.md, "Dashboard") ----------------

    def traffic(
        self, *, account_id: int, path: str, rolled: bool, start: datetime, end: datetime
    ) -> list[TrafficPoint]:
        """Calls and spend per minute and currency of the subtree's CDRs started in
        [start, end), oldest first (minutes without calls left out). ``rolled``: the
        account is one the roll-up keeps (``ROLLED_KINDS``), read as its rows plus the
        CDRs above the mark, in one snapshot; else from its CDRs."""
        ...

    def margins(
        self,
        *,
        account_id: int,
        path: str,
        root: bool,
        rolled: bool,
        start: datetime,
        end: datetime,
    ) -> list[Margin]:
        """What ``account_id`` earned per currency on its subtree's CDRs started in
        [start, end); ``root``: it is an operator root (margin over the vendor cost)."""
        ...

    def lock_rollup_mark(self) -> int:
        """The roll-up's mark (every CDR with an id up to it is rolled up; created at 0),
        locked until the transaction ends."""
        ...

    def share_rollup_mark(self) -> int:
        """The mark, held against a pass until the transaction ends."""
        ...

    def set_rollup_mark(self, cdr_id: int, at: datetime) -> None: ...

    def settled_before(self, at: datetime) -> int:
        """The largest id of a CDR written before ``at`` (0: none)."""
        ...

    def rolled_cdrs(self, after_id: int, upto_id: int, limit: int) -> list[RolledCdr]:
        """The CDRs with ids in (``after_id``, ``upto_id``], the first ``limit``."""
        ...

    def cdr_path(self, cdr_id: int) -> str | None: ...

    def accounts_of(self, account_ids: Sequence[int]) -> dict[int, tuple[AccountKind, str]]:
        """The kind and currency of each of the accounts."""
        ...

    def add_rollup(self, rollup: Rollup) -> None:
        """Add each entry to its minute row."""
        ...

    def clear_rollup(self) -> None:
        """Forget every minute row and the mark (a rebuild)."""
        ...
