"""Real-time charging for calls: authorize, start (hold), update (extend), stop (settle).

The public surface every door (REST, SIP, RADIUS, Diameter) drives. Truths live in the
database: concurrency counts and holds are checked and taken inside one transaction
per step, so several nodes may serve the same accounts at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from voxbill.domain import charging as rules
from voxbill.domain.accounts import Account
from voxbill.domain.charging import Reason, SessionStatus, SettleAt
from voxbill.domain.errors import (
    Conflict,
    InsufficientFunds,
    InvalidInput,
    InvalidPin,
    NotFound,
    Refused,
    SessionConflict,
    UnknownRatePlan,
)
from voxbill.domain.rating import Tariff
from voxbill.domain.tariff_snapshot import freeze
from voxbill.services import charging_cdrs, charging_sweep, charging_vendor, ledger_holds
from voxbill.services.charging_cdrs import Cdr
from voxbill.services.charging_decision import Evaluation, Sources, evaluate
from voxbill.services.charging_reads import ChainCache, fresh_sources, owners_of
from voxbill.services.charging_settle import available, levels_of, session_tariffs, settle
from voxbill.services.group_commit import GroupCommit
from voxbill.services.identifiers import IdentifierService
from voxbill.services.ledger import LedgerService
from voxbill.services.ledger_journal import Journal
from voxbill.services.ledger_views import HoldRequest, norm
from voxbill.services.rating import RatingService, call_start
from voxbill.services.ttl_cache import TtlCache
from voxbill.settings import Settings
from voxbill.storage import cdr_repository
from voxbill.storage import charging_repository as repo
from voxbill.storage.database import Database, DatabaseBusy
from voxbill.storage.hold_repository import holds_by_reference

__all__ = [
    "Authorization",
    "CallerId",
    "ChargingRefused",
    "ChargingService",
    "SessionGrant",
    "SessionSettlement",
]


@dataclass(frozen=True)
class CallerId:
    """How a switch identifies the caller; any subset of the fields."""

    ani: str | None = None
    sip_user: str | None = None
    ip: str | None = None
    card: str | None = None
    pin: str | None = None
    operator_id: int | None = None
    #: the caller's account, when the switch (or the API's tenancy check) already knows it
    account_id: int | None = None


@dataclass(frozen=True)
class Authorization:
    """The answer to "may this call go through, for how long, at what price?".

    ``reason`` is a stable code when refused: unknown_caller, blocked,
    insufficient_funds, no_rate, concurrency_limit, invalid_number.
    """

    allowed: bool
    reason: str | None
    account_id: int | None
    max_duration: int
    rate: Decimal | None
    currency: str | None
    balance: Decimal | None
    prefix: str | None
    destination: str | None


@dataclass(frozen=True)
class SessionGrant:
    """Seconds granted to a started (or updated) session; ``final`` when no more follow."""

    session_id: str
    account_id: int
    granted_seconds: int
    max_duration: int
    rate: Decimal
    currency: str
    balance: Decimal
    expires_at: datetime
    replayed: bool = False
    final: bool = False


@dataclass(frozen=True)
class SessionSettlement:
    """A stopped session: what the caller's account paid, and the CDR written."""

    session_id: str
    account_id: int
    duration: int
    billed_seconds: int
    cost: Decimal
    currency: str
    balance: Decimal
    cdr_id: int
    overrun: bool = False
    replayed: bool = False


class ChargingRefused(Refused):
    """A call refused for a business reason; ``code`` (and ``reason``) is the reason."""

    def __init__(self, authorization: Authorization, message: str | None = None) -> None:
        reason = authorization.reason or "refused"
        super().__init__(message or f"call refused: {reason}", code=reason)
        self.authorization = authorization

    @property
    def reason(self) -> str:
        return self.code


T = TypeVar("T")
_ATTEMPTS = 3
#: Seconds a rate plan checked before a transaction is used inside it without a new check.
_PLAN_STALE_OK = 30.0
#: Ledger holds outlive their session by this much, so the sweeper (which charges) always
#: reaches a session before the ledger's own expiry (which only releases) could.
_HOLD_BACKSTOP = timedelta(hours=1)


def _refusal(reason: Reason, account_id: int | None = None, **known: Any) -> Authorization:
    fields: dict[str, Any] = {
        "max_duration": 0,
        "rate": None,
        "currency": None,
        "balance": None,
        "prefix": None,
        "destination": None,
    }
    return Authorization(False, reason.value, account_id, **(fields | known))


def _caller_text(caller: CallerId) -> str:
    if caller.card:
        return f"card:…{caller.card.strip()[-4:]}"
    return (caller.ani or caller.sip_user or caller.ip or "")[:200]


def _check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not 1 <= len(session_id) <= 200:
        raise InvalidInput("a session id of 1 to 200 characters is required")
    return session_id


class ChargingService:
    """Authorize, start, update, stop and sweep call sessions (see the module docstring).

    Each step is one database transaction through the ledger's unit of work: the session
    row, the open-call counters, the holds and the charges commit or vanish together.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        rating: RatingService,
        ledger: LedgerService,
        identifiers: IdentifierService,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._settings = settings
        self._rating = rating
        self._ledger = ledger
        self._identifiers = identifiers
        self._clock = clock
        self._chains = ChainCache(db, settings.hot_cache_seconds)
        self._group: GroupCommit[Journal] = GroupCommit(
            ledger.unit_of_work,
            ledger.journal_batch,
            limit=settings.commit_group_limit,
            again_alone=lambda error: isinstance(error, DatabaseBusy),
        )
        #: session id -> caller's account: a fact that never changes, kept for tenancy checks
        self._session_accounts: TtlCache[str, int | None] = TtlCache(3600.0)

    # -- helpers -----------------------------------------------------------------------

    def _tariff(self, plan: str, number: str, start: datetime) -> Tariff:
        """A tariff inside a charging transaction: the plan as checked just before it
        (:meth:`_check_plans`), so that no second connection is opened while this one is
        held (threads each holding one and waiting for another would empty the pool)."""
        return self._rating.tariff_of_e164(plan, number, start, stale_ok=_PLAN_STALE_OK)

    def _check_plans(self, chain: Sequence[Account]) -> None:
        """Check the chain's rate plans for a new version, outside any transaction."""
        for plan in {a.plans.rate_plan for a in chain if a.plans.rate_plan}:
            # an unknown plan: the decision refuses the call (no_rate) when it needs it
            with suppress(UnknownRatePlan):
                self._rating.plan(plan)

    def _start_time(self, at: datetime | None) -> datetime:
        return call_start(at or self._clock())

    def _number(self, callee: str) -> str | None:
        try:
            return self._rating.normalize(callee)
        except InvalidInput:
            return None

    def identify(self, caller: CallerId) -> int | None:
        """The caller's account id, or None (an unknown caller); a known card with a wrong
        PIN raises :class:`~voxbill.domain.errors.InvalidPin`."""
        if caller.account_id is not None:
            return caller.account_id
        if not any((caller.ani, caller.sip_user, caller.ip, caller.card)):
            return None
        found = self._identifiers.identify(
            operator_id=caller.operator_id,
            ani=caller.ani,
            sip_user=caller.sip_user,
            ip=caller.ip,
            card=caller.card,
            pin=caller.pin,
        )
        return None if found is None else found.account_id

    def _caller_account(self, caller: CallerId) -> int:
        """The caller's account id; refuses an unknown caller or a wrong card PIN."""
        try:
            account_id = self.identify(caller)
        except InvalidPin as exc:
            raise ChargingRefused(_refusal(Reason.INVALID_PIN), f"call refused: {exc}") from exc
        if account_id is None:
            raise ChargingRefused(_refusal(Reason.UNKNOWN_CALLER))
        return account_id

    def _answer(self, ev: Evaluation, account_id: int) -> Authorization:
        if not ev.allowed:
            assert ev.reason is not None
            return _refusal(
                ev.reason,
                account_id,
                balance=None if ev.available is None else norm(ev.available),
                currency=ev.chain[0].currency if ev.chain else None,
            )
        row = ev.tariffs[0].row
        return Authorization(
            allowed=True,
            reason=None,
            account_id=account_id,
            max_duration=ev.max_duration,
            rate=norm(row.rate),
            currency=ev.levels[0].account.currency,
            balance=None if ev.available is None else norm(ev.available),
            prefix=row.prefix,
            destination=row.destination,
        )

    def _expiry(self, seconds: int) -> datetime:
        return self._clock() + timedelta(seconds=seconds + self._settings.hold_expiry_slack_seconds)

    # -- authorize ---------------------------------------------------------------------

    def authorize(self, caller: CallerId, callee: str, at: datetime | None = None) -> Authorization:
        """Decide without reserving anything; never raises for a business refusal."""
        start = self._start_time(at)
        number = self._number(callee)
        if number is None:
            return _refusal(Reason.INVALID_NUMBER)
        try:
            account_id = self._caller_account(caller)
        except ChargingRefused as refused:
            return refused.authorization
        chain = self._chains.chain(account_id)
        if not chain:
            return _refusal(Reason.UNKNOWN_CALLER)
        self._check_plans(chain)
        with self._db.transaction(readonly=True) as conn:
            ev = evaluate(
                chain,
                number,
                start,
                tariff_of=self._tariff,
                sources=fresh_sources(conn, chain),
                system_max=self._settings.max_call_duration,
            )
        return self._answer(ev, account_id)

    # -- start -------------------------------------------------------------------------

    def start(
        self,
        session_id: str,
        caller: CallerId,
        callee: str,
        at: datetime | None = None,
        *,
        interim: bool = False,
        vendor_id: int | None = None,
    ) -> SessionGrant:
        """Open a session and hold its grant at every level, in one transaction with the
        concurrency check; the same session id again replays the first grant when it is
        the same call (caller's account, callee, interim, vendor), else raises
        :class:`~voxbill.domain.errors.SessionConflict`. Raises :class:`ChargingRefused`
        for a business refusal.

        ``vendor_id``: the carrier the switch sends the call to (a vendor account of the
        caller's operator whose deck prices the number); the CDR gets its buy leg."""
        _check_session_id(session_id)
        start = self._start_time(at)
        number = self._number(callee)
        if number is None:
            raise ChargingRefused(_refusal(Reason.INVALID_NUMBER))
        account_id = self._caller_account(caller)
        self._check_plans(self._chains.chain(account_id))
        grant = self._transaction(
            lambda journal: self._start_in(
                journal, session_id, account_id, caller, number, start, interim, vendor_id
            )
        )
        self._session_accounts.put(session_id, grant.account_id)
        return grant

    def _transaction(self, work: Callable[[Journal], T]) -> T:
        """Run ``work`` in one ledger transaction — shared with the steps that arrive
        meanwhile (group commit) — again if it changed nothing because a twin committed
        first (a duplicate start: replayed on retry) or a lock was busy. Every step is
        idempotent by session id, so a retry never does anything twice."""
        for attempt in range(_ATTEMPTS):
            try:
                return self._group.run(work)
            except (IntegrityError, DatabaseBusy):
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_in(
        self,
        journal: Journal,
        session_id: str,
        account_id: int,
        caller: CallerId,
        number: str,
        start: datetime,
        interim: bool,
        vendor_id: int | None,
    ) -> SessionGrant:
        conn = journal.conn
        existing = repo.session(conn, session_id, lock=False)
        if existing is not None:
            stored = rules.CallKey(
                existing.account_id, existing.callee, bool(existing.interim), existing.vendor_id
            )
            if stored != rules.CallKey(account_id, number, interim, vendor_id):
                raise SessionConflict(
                    f"session id {session_id!r} belongs to another call; use a new id"
                )
            return self._grant_of(journal, existing, replayed=True)
        # statuses and limits as they are now, locked: a block or a lower limit committed
        # meanwhile is seen, and none commits before this start does
        chain = repo.chain(
            conn, account_id, ancestors=self._chains.ancestors(account_id), share=True
        )
        if not chain:
            raise ChargingRefused(_refusal(Reason.UNKNOWN_CALLER))
        self._chains.remember(account_id, chain)
        journal.know_owners(owners_of(chain))
        vendor_plan = vendor_tariff = None
        if vendor_id is not None:
            vendor_plan, bought = charging_vendor.vendor_plan(
                conn, vendor_id, chain, number, start, self._tariff
            )
            vendor_tariff = json.dumps(freeze(bought))
        journal.lock([journal.account_book(a.id) for a in _funded(chain)])
        ev = evaluate(
            chain,
            number,
            start,
            tariff_of=self._tariff,
            sources=Sources(
                book_of=lambda a: journal.account_book(a.id),
                funds_of_book=journal.funds,
                open_calls=lambda ids: repo.lock_counters(conn, ids),
            ),
            system_max=self._settings.max_call_duration,
        )
        answer = self._answer(ev, account_id)
        if not ev.allowed:
            raise ChargingRefused(answer, f"call refused: {ev.detail}")
        chunk = self._settings.grant_chunk_seconds
        granted = min(chunk, ev.max_duration) if interim else ev.max_duration
        expires_at = self._expiry(granted)
        requests = [
            HoldRequest(level.account.id, rules.hold_amount(tariff.cost(granted)))
            for level, tariff in zip(ev.levels, ev.tariffs, strict=True)
        ]
        checked = ledger_holds.validate_requests(session_id, requests, expires_at)
        try:
            ledger_holds.place_quietly(journal, session_id, checked, expires_at + _HOLD_BACKSTOP)
        except InsufficientFunds as exc:
            refusal = _refusal(Reason.INSUFFICIENT_FUNDS, account_id)
            raise ChargingRefused(refusal, f"call refused: {exc.message}") from exc
        if ev.counted:
            repo.add_open_calls(conn, ev.counted, +1)
        now = journal.now
        repo.insert_session(
            conn,
            {
                "session_id": session_id,
                "account_id": account_id,
                "caller": _caller_text(caller),
                "callee": number,
                "interim": interim,
                "status": SessionStatus.OPEN.value,
                "started_at": start,
                "cap": ev.cap,
                "max_duration": ev.max_duration,
                "granted_seconds": granted,
                "used_seconds": 0,
                "request_number": None,
                "levels": json.dumps(
                    [
                        {
                            "account_id": level.account.id,
                            "plan": level.plan,
                            "rate": str(tariff.row.rate),
                            "currency": level.account.currency,
                            "max_cost": None if level.max_cost is None else str(level.max_cost),
                            "tariff": freeze(tariff),
                            "seller_id": level.seller_id,
                        }
                        for level, tariff in zip(ev.levels, ev.tariffs, strict=True)
                    ]
                ),
                "counted": json.dumps(ev.counted),
                "vendor_id": vendor_id,
                "vendor_plan": vendor_plan,
                "vendor_tariff": vendor_tariff,
                "expires_at": expires_at,
                "created_at": now,
                "updated_at": now,
            },
        )
        return SessionGrant(
            session_id=session_id,
            account_id=account_id,
            granted_seconds=granted,
            max_duration=ev.max_duration,
            rate=answer.rate or Decimal(0),
            currency=answer.currency or ev.levels[0].account.currency,
            balance=available(journal, account_id),
            expires_at=expires_at,
            final=granted >= ev.max_duration,
        )

    def _grant_of(self, journal: Journal, row: Any, *, replayed: bool) -> SessionGrant:
        first = levels_of(row)[0]
        return SessionGrant(
            session_id=row.session_id,
            account_id=row.account_id,
            granted_seconds=max(row.granted_seconds - row.used_seconds, 0),
            max_duration=row.max_duration,
            rate=norm(Decimal(first["rate"])),
            currency=first["currency"],
            balance=available(journal, row.account_id),
            expires_at=row.expires_at,
            replayed=replayed,
            final=row.granted_seconds >= row.max_duration,
        )

    # -- update ------------------------------------------------------------------------

    def update(
        self,
        session_id: str,
        used_seconds: int | None = None,
        *,
        used_delta: int | None = None,
        request_number: int | None = None,
    ) -> SessionGrant:
        """Report usage and extend the grant by a chunk, as far as every level's funds
        allow. Usage is either ``used_seconds`` since the call's start, or ``used_delta``
        seconds since the last report (Diameter's Used-Service-Unit), added to the stored
        usage in this transaction. ``granted_seconds`` counts from the reported usage;
        ``final`` says no further extension is possible. A repeated or older report (same
        or lower request number, or lower usage) replays the current grant."""
        _check_session_id(session_id)
        report = self._usage_report(used_seconds, used_delta)
        return self._transaction(
            lambda journal: self._update_in(journal, session_id, report, request_number)
        )

    def _usage_report(self, used_seconds: int | None, used_delta: int | None) -> _Usage:
        if (used_seconds is None) == (used_delta is None):
            raise InvalidInput("give either the usage since the start or since the last report")
        value = used_seconds if used_seconds is not None else used_delta
        assert value is not None
        if not 0 <= value <= self._settings.max_call_duration * 6:
            raise InvalidInput("used seconds out of range")
        return _Usage(value, delta=used_delta is not None)

    def _update_in(
        self, journal: Journal, session_id: str, report: _Usage, request_number: int | None
    ) -> SessionGrant:
        conn = journal.conn
        row = _locked_session(conn, session_id)
        if row.status != SessionStatus.OPEN.value:
            raise Conflict(f"session {session_id!r} is already settled", code="session_settled")
        last = row.request_number
        if _already_counted(row, request_number):
            return self._grant_of(journal, row, replayed=True)
        used = report.total(row.used_seconds)
        if used < row.used_seconds:
            return self._grant_of(journal, row, replayed=True)
        granted, longest = row.granted_seconds, row.max_duration
        holds = holds_by_reference(conn, session_id, lock=True) if row.interim else []
        if row.interim:
            granted, longest = self._extend(journal, row, used, holds)
        # anchored on the session's opening, never on the report: updates that report no
        # usage cannot keep a session (and its holds) open past its grant
        expires_at = row.created_at + timedelta(
            seconds=granted + self._settings.hold_expiry_slack_seconds
        )
        if row.interim:
            tariffs = session_tariffs(row, self._tariff)
            ledger_holds.extend_locked(
                journal,
                holds,
                [rules.hold_amount(t.cost(granted)) for t in tariffs],
                expires_at + _HOLD_BACKSTOP,
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
        return self._grant_of(journal, row._replace(**changes), replayed=False)

    def _extend(
        self, journal: Journal, row: Any, used: int, holds: Sequence[Any]
    ) -> tuple[int, int]:
        """(new total grant, longest the call may now last) for an interim session whose
        hold rows (``holds``) are locked."""
        levels = levels_of(row)
        books = [journal.account_book(lv["account_id"]) for lv in levels]
        journal.lock(books)
        tariffs = session_tariffs(row, self._tariff)
        headrooms = {book: journal.funds(book).headroom() for book in books}
        for book, hold in zip(books, holds, strict=True):
            headrooms[book] += hold.amount  # this session's own hold is its to spend
        longest = row.cap
        for lv, book, tariff in zip(levels, books, tariffs, strict=True):
            longest = min(longest, tariff.max_duration(self._budget(lv, headrooms[book]), row.cap))
        longest = rules.fit_shared_books(longest, books, [t.cost for t in tariffs], headrooms)
        target = min(used + self._settings.grant_chunk_seconds, longest)
        return max(row.granted_seconds, target), max(longest, row.granted_seconds)

    def _budget(self, level: dict[str, Any], headroom: Decimal) -> Decimal:
        cap = level.get("max_cost")
        return headroom if cap is None else min(headroom, Decimal(cap))

    # -- stop and sweep ----------------------------------------------------------------

    def stop(
        self,
        session_id: str,
        duration: int | None = None,
        *,
        used_delta: int | None = None,
        request_number: int | None = None,
        at: datetime | None = None,
    ) -> SessionSettlement:
        """Rate the actual duration at every level, charge it against the holds (usage
        beyond the grant is charged too, and flagged ``overrun``), release the rest and
        write the CDR. ``used_delta`` instead of ``duration``: the seconds since the last
        report, added to the stored usage (unless ``request_number`` was counted already).
        Stopping a settled session replays its settlement: a retry or a crossing stop
        never charges twice."""
        _check_session_id(session_id)
        report = self._usage_report(duration, used_delta)
        return self._transaction(
            lambda journal: self._stop_in(journal, session_id, report, request_number)
        )

    def _stop_in(
        self, journal: Journal, session_id: str, report: _Usage, request_number: int | None
    ) -> SessionSettlement:
        row = _locked_session(journal.conn, session_id)
        if row.status != SessionStatus.OPEN.value:
            return self._settled(journal, row)
        duration = report.value
        if report.delta:
            counted = _already_counted(row, request_number)
            duration = row.used_seconds if counted else report.total(row.used_seconds)
        cdr_id, ratings, overrun = settle(
            journal, row, duration, tariff_of=self._tariff, settled_by="stop"
        )
        return self._settlement(journal, row, duration, cdr_id, ratings[0], overrun)

    def _settlement(
        self, journal: Journal, row: Any, duration: int, cdr_id: int, rating: Any, overrun: bool
    ) -> SessionSettlement:
        return SessionSettlement(
            session_id=row.session_id,
            account_id=row.account_id,
            duration=duration,
            billed_seconds=rating.billed_seconds,
            cost=norm(rating.cost),
            currency=rating.currency,
            balance=available(journal, row.account_id),
            cdr_id=cdr_id,
            overrun=overrun,
        )

    def _settled(self, journal: Journal, row: Any) -> SessionSettlement:
        cdr = cdr_repository.by_session(journal.conn, row.session_id)
        assert cdr is not None  # a settled session always has its CDR
        return SessionSettlement(
            session_id=row.session_id,
            account_id=row.account_id,
            duration=cdr.duration,
            billed_seconds=cdr.billed_seconds,
            cost=norm(cdr.cost),
            currency=cdr.currency,
            balance=available(journal, row.account_id),
            cdr_id=cdr.id,
            overrun=bool(cdr.overrun),
            replayed=True,
        )

    def sweep(self, now: datetime | None = None, *, limit: int = 500) -> int:
        """Settle up to ``limit`` sessions whose hold expired, one transaction each, at
        their last usage or their grant (``Settings.sweeper_settle_at``). Several
        sweepers share the work: each claims a session with ``SKIP LOCKED``. A session
        that fails to settle is put back for later (see :mod:`charging_sweep`)."""
        moment = now or self._clock()
        mode = SettleAt(self._settings.sweeper_settle_at)

        def settle_row(journal: Journal, row: Any) -> None:
            duration = rules.settle_duration(
                mode, interim=row.interim, used=row.used_seconds, granted=row.granted_seconds
            )
            settle(journal, row, duration, tariff_of=self._tariff, settled_by="sweeper")

        return charging_sweep.sweep(self._transaction, settle_row, moment, limit)

    def release_orphan_holds(self, now: datetime | None = None, *, limit: int = 500) -> int:
        """The holds backstop: release expired holds that no session owns."""
        moment = now or self._clock()
        return self._transaction(
            lambda journal: charging_sweep.release_orphan_holds(journal, moment, limit)
        )

    # -- reading -------------------------------------------------------------------------

    def session_usage(self, session_id: str) -> int | None:
        """The last usage a session reported (seconds since its start), or None."""
        with self._db.transaction(readonly=True) as conn:
            row = repo.session(conn, session_id, lock=False)
        return None if row is None else int(row.used_seconds)

    def session_account(self, session_id: str) -> int | None:
        """The caller's account of a session (doors check tenancy with it), or None."""

        def load() -> int | None:
            with self._db.transaction(readonly=True) as conn:
                row = repo.session(conn, session_id, lock=False)
            return None if row is None else int(row.account_id)

        found = self._session_accounts.get(session_id, load)
        if found is None:
            self._session_accounts.forget(session_id)  # it may start any moment
        return found

    def forget_accounts(self) -> None:
        """An account changed on this node: authorize reads its chain afresh."""
        self._chains.clear()

    def cdrs(
        self,
        path: str,
        *,
        started_from: datetime | None = None,
        started_to: datetime | None = None,
        number: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Cdr]:
        """CDRs of the subtree at ``path``, newest first; ``number``: a callee prefix or
        the caller, in digits."""
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        digits = None
        if number:
            digits = "".join(c for c in number if c.isdigit())
            if not digits:
                raise InvalidInput("number: digits expected")
        return charging_cdrs.page(
            self._db,
            path=path,
            started_from=started_from,
            started_to=started_to,
            number=digits,
            before_id=before_id,
            limit=limit,
        )


@dataclass(frozen=True)
class _Usage:
    """A usage report: seconds since the call's start, or since the last report."""

    value: int
    delta: bool

    def total(self, stored: int) -> int:
        return stored + self.value if self.delta else self.value


def _already_counted(row: Any, request_number: int | None) -> bool:
    """Whether a report with this request number was applied already (a retransmission)."""
    last = row.request_number
    return request_number is not None and last is not None and request_number <= last


def _locked_session(conn: Connection, session_id: str) -> Any:
    row = repo.session(conn, session_id, lock=True)
    if row is None:
        raise NotFound(f"no call session {session_id!r}", code="unknown_session")
    return row


def _funded(chain: Sequence[Account]) -> list[Account]:
    """Accounts whose balance a decision reads: payers, cutoff partners, low-balance limits."""
    payers = {level.account.id for level in rules.levels(chain)}
    return [
        a
        for a in chain
        if a.id in payers
        or a.balance.cutoff_mode.value in ("inbound", "mutual")
        or a.limits.low_balance_concurrent_calls is not None
    ]
