"""Real-time charging for calls: authorize, start (hold), update (extend), stop (settle).

The public surface every door (REST, SIP, RADIUS, Diameter) drives. Truths live in the
database: concurrency counts and holds are checked and taken inside one transaction
per step, so several nodes may serve the same accounts at once. The steps' bodies live
in :mod:`~voxbill.services.charging.start`, :mod:`~voxbill.services.charging.usage`,
:mod:`~voxbill.services.charging.settle` and :mod:`~voxbill.services.charging.sweep`,
the answers' types in :mod:`~voxbill.services.charging.results`; this module keeps the
service that runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import TypeVar

from voxbill.domain import charging as rules
from voxbill.domain.accounts import Account
from voxbill.domain.charging import Reason, SettleAt
from voxbill.domain.charging_decision import evaluate
from voxbill.domain.errors import DatabaseBusy, InvalidInput, UnknownRatePlan
from voxbill.domain.rating import Tariff
from voxbill.domain.sessions import ChargingSession
from voxbill.services.access.identifiers import IdentifierService
from voxbill.services.charging import callers, start, sweep, usage
from voxbill.services.charging.answers import authorization
from voxbill.services.charging.chains import fresh_sources
from voxbill.services.charging.fraud import FraudGuard
from voxbill.services.charging.group_commit import GroupCommit
from voxbill.services.charging.queries import ChargingQueries
from voxbill.services.charging.results import (
    Authorization,
    CallerId,
    ChargingRefused,
    SessionGrant,
    SessionSettlement,
    refusal,
)
from voxbill.services.charging.settle import settle
from voxbill.services.ledger.journal import Journal
from voxbill.services.ledger.service import LedgerService
from voxbill.services.rating.service import RatingService, call_start
from voxbill.services.unit_of_work import UnitOfWork, WriteConflict
from voxbill.settings import Settings

__all__ = [
    "Authorization",
    "CallerId",
    "ChargingRefused",
    "ChargingService",
    "SessionGrant",
    "SessionSettlement",
]

T = TypeVar("T")
_ATTEMPTS = 3
#: Seconds a rate plan checked before a transaction is used inside it without a new check.
_PLAN_STALE_OK = 30.0


def _check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not 1 <= len(session_id) <= 200:
        raise InvalidInput("a session id of 1 to 200 characters is required")
    return session_id


class ChargingService(ChargingQueries):
    """Authorize, start, update, stop and sweep call sessions (see the module docstring),
    over the reads of :class:`~voxbill.services.charging.queries.ChargingQueries`.

    Each step is one database transaction through the ledger's unit of work: the session,
    the open-call counters, the holds and the charges commit or vanish together.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        *,
        rating: RatingService,
        ledger: LedgerService,
        identifiers: IdentifierService,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(uow, settings)
        self._rating = rating
        self._ledger = ledger
        self._identifiers = identifiers
        self._clock = clock
        #: the fraud guard's state (high-risk prefixes per operator; velocity policy)
        self.fraud = FraudGuard(settings)
        self._group: GroupCommit[Journal] = GroupCommit(
            ledger.unit_of_work,
            ledger.journal_batch,
            limit=settings.commit_group_limit,
            again_alone=lambda error: isinstance(error, DatabaseBusy),
        )

    # -- helpers -----------------------------------------------------------------------

    def _tariff(self, operator_id: int, plan: str, number: str, start: datetime) -> Tariff:
        """A tariff inside a charging transaction: the operator's plan as checked just
        before it (:meth:`_check_plans`), so that no second connection is opened while
        this one is held (threads each holding one and waiting for another would empty
        the pool)."""
        return self._rating.tariff_of_e164(
            operator_id, plan, number, start, stale_ok=_PLAN_STALE_OK
        )

    def _check_plans(self, chain: Sequence[Account]) -> None:
        """Check the chain's rate plans (its operator's, by name) for a new version,
        outside any transaction."""
        if not chain:
            return
        operator_id = chain[0].operator_id  # the whole chain's: a tree has one root
        for plan in {a.plans.rate_plan for a in chain if a.plans.rate_plan}:
            # an unknown plan: the decision refuses the call (no_rate) when it needs it
            with suppress(UnknownRatePlan):
                self._rating.plan(operator_id, plan)

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
        return callers.identify(self._identifiers, caller)

    def authorize(self, caller: CallerId, callee: str, at: datetime | None = None) -> Authorization:
        """Decide without reserving anything; never raises for a business refusal."""
        start_at = self._start_time(at)
        number = self._number(callee)
        if number is None:
            return refusal(Reason.INVALID_NUMBER)
        try:
            account_id = callers.caller_account(self.identify, caller)
        except ChargingRefused as refused:
            return refused.authorization
        chain = self._chains.chain(account_id)
        if not chain:
            return refusal(Reason.UNKNOWN_CALLER)
        self._check_plans(chain)
        with self._uow.transaction(readonly=True) as tx:
            ev = evaluate(
                chain,
                number,
                start_at,
                tariff_of=self._tariff,
                sources=fresh_sources(tx, chain),
                system_max=self._settings.max_call_duration,
                # what a start without interim updates would be granted at most
                shared_default=self._settings.shared_balance_call_cap_seconds,
            )
            ev, _ = self.fraud.check(tx, ev, number, start_at, lock=False)
        return authorization(ev, account_id)

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
        start_at = self._start_time(at)
        number = self._number(callee)
        if number is None:
            raise ChargingRefused(refusal(Reason.INVALID_NUMBER))
        account_id = callers.caller_account(self.identify, caller)
        self._check_plans(self._chains.chain(account_id))
        grant = self._transaction(
            lambda journal: start.start_in(
                journal,
                session_id,
                account_id,
                caller,
                number,
                start_at,
                interim,
                vendor_id,
                chains=self._chains,
                tariff_of=self._tariff,
                settings=self._settings,
                clock=self._clock,
                guard=self.fraud,
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
            except (WriteConflict, DatabaseBusy):
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

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
        report = usage.usage_report(used_seconds, used_delta, self._settings)
        return self._transaction(
            lambda journal: usage.update_in(
                journal,
                session_id,
                report,
                request_number,
                tariff_of=self._tariff,
                settings=self._settings,
            )
        )

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
        Stopping a session the sweeper settled corrects its charge to this duration,
        once, through linked ledger corrections (:mod:`~voxbill.services.charging.correct`);
        stopping a settled session otherwise replays its settlement: a retry or a
        crossing stop never charges twice."""
        _check_session_id(session_id)
        report = usage.usage_report(duration, used_delta, self._settings)
        return self._transaction(
            lambda journal: usage.stop_in(
                journal, session_id, report, request_number, tariff_of=self._tariff
            )
        )

    def sweep(self, now: datetime | None = None, *, limit: int = 500) -> int:
        """Settle up to ``limit`` sessions whose hold expired, one transaction each: at
        their last reported usage, or — for a session that never reported any — at
        nothing or its whole grant (``Settings.sweeper_settle_at``); the CDR says
        ``settled_by: sweeper`` and why (``settled_reason``). Several sweepers share
        the work: each claims a session with ``SKIP LOCKED``. A session that fails to
        settle is put back for later (see :mod:`~voxbill.services.charging.sweep`)."""
        moment = now or self._clock()
        mode = SettleAt(self._settings.sweeper_settle_at)

        def settle_expired(journal: Journal, session: ChargingSession) -> None:
            duration, reason = rules.settle_duration(
                mode,
                reported=session.reported_at is not None,
                used=session.used_seconds,
                granted=session.granted_seconds,
            )
            settle(
                journal,
                session,
                duration,
                tariff_of=self._tariff,
                settled_by="sweeper",
                reason=reason.value,
            )

        return sweep.sweep(self._transaction, settle_expired, moment, limit)

    def forget_velocity(self, now: datetime | None = None) -> int:
        """Drop the velocity minutes no norm reads any more (older than the window and an
        hour); how many (the sweeper's job)."""
        moment = now or self._clock()
        return self.fraud.forget_minutes(self._uow, moment)

    def release_orphan_holds(self, now: datetime | None = None, *, limit: int = 500) -> int:
        """The holds backstop: release expired holds that no session owns."""
        moment = now or self._clock()
        return self._transaction(lambda journal: sweep.release_orphan_holds(journal, moment, limit))
