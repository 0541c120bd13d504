"""The fraud guard inside the charging steps (rules: :mod:`voxbill.domain.fraud`; the
model: docs/charging.md, "Fraud guard").

- :meth:`FraudGuard.check` after a decision: a high-risk destination refused unless the
  chain opted in; the grant bounded by every spend cap's remainder (counters locked in a
  start, after the payers' balances: concurrent starts never together exceed a cap).
- :func:`reserve` adds a start's grant to the counters; :func:`extension_bound` and
  :func:`extended` do the same for an update's extension; :func:`settled` and
  :func:`corrected` add what a charge differs from what was counted.
- :meth:`FraudGuard.count_call` counts a started call in its minute and writes one
  ``fraud.velocity`` outbox event when the minute is far above the account's norm.

A chain without caps and an operator without high-risk prefixes cost no query: the
prefixes are cached per operator (``hot_cache_seconds``; a change on this node is seen
at once, on another within that bound).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from voxbill.domain import fraud as rules
from voxbill.domain.charging import Reason
from voxbill.domain.charging_decision import Evaluation
from voxbill.domain.fraud import SpendCap, SpendKey, VelocityPolicy
from voxbill.domain.ledger import Owner, norm
from voxbill.domain.rating import Rating, Tariff
from voxbill.domain.sessions import ChargingSession
from voxbill.services.caching import TtlCache
from voxbill.services.unit_of_work import Transaction, UnitOfWork
from voxbill.settings import Settings

log = logging.getLogger(__name__)

Counts = dict[tuple[int, str], Decimal]


class FraudGuard:
    """The per-process state of the guard: the high-risk prefixes per operator, cached,
    and the velocity policy from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._prefixes: TtlCache[int, frozenset[str]] = TtlCache(settings.hot_cache_seconds)
        self.policy = VelocityPolicy(
            factor=settings.velocity_factor,
            min_calls=settings.velocity_min_calls,
            min_spend=settings.velocity_min_spend,
            window_minutes=settings.velocity_window_minutes,
        )

    def forget_minutes(self, uow: UnitOfWork, now: datetime) -> int:
        """Drop velocity minutes older than the window (and an hour) before ``now``."""
        keep = timedelta(minutes=self.policy.window_minutes + 60)
        with uow.transaction() as tx:
            return tx.fraud.forget_minutes(now - keep)

    def forget(self, operator_id: int) -> None:
        """The operator's list changed on this node: read it again at once."""
        self._prefixes.forget(operator_id)

    def prefixes(self, tx: Transaction, operator_id: int) -> frozenset[str]:
        def load() -> frozenset[str]:
            return frozenset(p.prefix for p in tx.fraud.high_risk_prefixes(operator_id))

        return self._prefixes.get(operator_id, load)

    def check(
        self, tx: Transaction, ev: Evaluation, number: str, start: datetime, *, lock: bool
    ) -> tuple[Evaluation, list[SpendCap]]:
        """The decision ``ev`` refused or shortened by the guard; the caps that bound the
        call (their counters locked when ``lock``)."""
        if not ev.allowed:
            return ev, []
        chain = ev.chain
        risky = rules.matching_prefix(number, self.prefixes(tx, chain[0].operator_id))
        if risky is not None:
            outsider = rules.high_risk_allowed(chain)
            if outsider is not None:
                why = (
                    f"{number} is a high-risk destination (prefix {risky}) and account "
                    f"{outsider.id} is not allowed to call it"
                )
                return _refused(ev, Reason.HIGH_RISK_DESTINATION, why), []
        caps = rules.spend_caps(chain, ev.levels, start, high_risk=risky is not None)
        if not caps:
            return ev, []
        keys = [cap.key for cap in caps]
        spent = tx.fraud.lock_spend(keys) if lock else tx.fraud.spend(keys)
        longest = ev.max_duration
        for level, rest in sorted(rules.remainders(caps, spent).items()):
            if rest > 0:
                longest = min(longest, ev.tariffs[level].max_duration(rest, ev.cap))
            if rest <= 0 or longest <= 0:
                reached = [c for c in caps if c.level == level]
                names = ", ".join(f"{c.kind} of account {c.key.account_id}" for c in reached)
                return _refused(ev, Reason.SPEND_CAP, f"spend cap reached ({names})"), caps
        return replace(ev, max_duration=longest), caps

    def started(
        self,
        tx: Transaction,
        owner: Owner,
        ev: Evaluation,
        caps: Sequence[SpendCap],
        start: datetime,
        granted: int,
        now: datetime,
    ) -> dict[int, tuple[SpendKey, ...]]:
        """A start's grant counted: in its caps' counters (each level's keys, for the
        session) and in the minute of the call's ``start`` of the caller's balance
        ``owner`` (an alert is written at ``now``)."""
        spend = reserve(tx, caps, ev.tariffs, granted) if caps else {}
        cost = ev.tariffs[0].cost(granted)
        self.count_call(tx, owner.balance_account_id, owner.currency, start, cost, now)
        return spend

    def count_call(
        self,
        tx: Transaction,
        account_id: int,
        currency: str,
        start: datetime,
        spend: Decimal,
        now: datetime,
    ) -> None:
        """One call of ``account_id`` (the caller's balance owner) started in its minute,
        costing ``spend`` as granted; an alert when the minute is far above the norm."""
        policy = self.policy
        if not policy.enabled:
            return
        minute = rules.minute_of(start)
        this = tx.fraud.count_minute(account_id, minute, spend)
        if this.alerted or not rules.may_alert(this.calls, this.spend, policy):
            return
        since, until = rules.window(minute, policy)
        before = tx.fraud.minutes_total(account_id, since, until)
        what = rules.velocity_alert(this.calls, this.spend, before.calls, before.spend, policy)
        if not what or not tx.fraud.mark_alerted(account_id, minute):
            return
        minutes = Decimal(policy.window_minutes)
        payload = {
            "event": rules.VELOCITY_TOPIC,
            "account_id": account_id,
            "minute": minute.isoformat(),
            "over": what,
            "calls": this.calls,
            "spend": str(norm(this.spend)),
            "currency": currency,
            "norm_calls": str(norm(Decimal(before.calls) / minutes)),
            "norm_spend": str(norm((before.spend / minutes).quantize(Decimal("0.00000001")))),
            "factor": str(policy.factor),
            "window_minutes": policy.window_minutes,
        }
        tx.ledger.add_outbox_event(
            rules.VELOCITY_TOPIC, account_id, json.dumps(payload, sort_keys=True), now
        )
        log.warning("velocity alert: account %d, minute %s, %s", account_id, minute, what)


def _refused(ev: Evaluation, reason: Reason, detail: str) -> Evaluation:
    return replace(ev, reason=reason, detail=detail, max_duration=0)


def _add(counts: Counts, keys: Sequence[SpendKey], amount: Decimal) -> None:
    for key in keys:
        counts[(key.account_id, key.period)] += amount


def reserve(
    tx: Transaction, caps: Sequence[SpendCap], tariffs: Sequence[Tariff], granted: int
) -> dict[int, tuple[SpendKey, ...]]:
    """Count a start's grant in its caps' (locked) counters; each level's keys, for the
    session."""
    by_level: dict[int, list[SpendKey]] = defaultdict(list)
    counts: Counts = defaultdict(Decimal)
    for cap in caps:
        by_level[cap.level].append(cap.key)
        counts[(cap.key.account_id, cap.key.period)] += tariffs[cap.level].cost(granted)
    tx.fraud.add_spend(counts)
    return {level: tuple(keys) for level, keys in by_level.items()}


def extension_bound(
    tx: Transaction, session: ChargingSession, tariffs: Sequence[Tariff], longest: int
) -> int:
    """``longest`` shortened so that an interim session's next grant keeps within its
    caps (as at its start); its own grant so far is counted already."""
    keyed = [(i, lv.spend) for i, lv in enumerate(session.levels) if lv.spend]
    if not keyed:
        return longest
    spent = tx.fraud.lock_spend([k for _, keys in keyed for k in keys])
    for index, keys in keyed:
        own = tariffs[index].cost(session.granted_seconds)
        for key in keys:
            rest = key.cap - spent[(key.account_id, key.period)] + own
            longest = min(longest, tariffs[index].max_duration(max(rest, Decimal(0)), session.cap))
    return longest


def extended(
    tx: Transaction, session: ChargingSession, tariffs: Sequence[Tariff], granted: int
) -> None:
    """Count an update's extension (from the session's grant to ``granted``)."""
    counts: Counts = defaultdict(Decimal)
    for lv, tariff in zip(session.levels, tariffs, strict=True):
        if lv.spend:
            _add(counts, lv.spend, tariff.cost(granted) - tariff.cost(session.granted_seconds))
    if counts:
        tx.fraud.add_spend(counts)


def settled(
    tx: Transaction,
    session: ChargingSession,
    tariffs: Sequence[Tariff],
    ratings: Sequence[Rating],
) -> None:
    """A settlement: the counters take the charge instead of the grant they counted."""
    counts: Counts = defaultdict(Decimal)
    for lv, tariff, rating in zip(session.levels, tariffs, ratings, strict=True):
        if lv.spend:
            _add(counts, lv.spend, rating.cost - tariff.cost(session.granted_seconds))
    if counts:
        tx.fraud.add_spend(counts)


def corrected(tx: Transaction, session: ChargingSession, moves: Sequence[Decimal]) -> None:
    """A late stop's correction: each level's counters take its difference."""
    counts: Counts = defaultdict(Decimal)
    for lv, move in zip(session.levels, moves, strict=True):
        if lv.spend:
            _add(counts, lv.spend, move)
    if counts:
        tx.fraud.add_spend(counts)
