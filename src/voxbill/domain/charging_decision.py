"""One call's decision over its chain: allowed or not, why, at what rate, for how long.

The same evaluation serves ``authorize`` (unlocked reads) and ``start`` (balances and
counters locked in the start's transaction): the callbacks say where funds and open-call
counts come from, so the rules are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from voxbill.domain import charging as rules
from voxbill.domain import partners
from voxbill.domain.accounts import Account
from voxbill.domain.charging import Level, Reason
from voxbill.domain.errors import NotFound
from voxbill.domain.ledger import Funds
from voxbill.domain.rating import Tariff

#: (operator id, plan name, E.164 number, start) -> the tariff: a plan name means the plan
#: of that name in the operator of the account it prices (every account of a call's chain
#: has the caller's operator)
TariffOf = Callable[[int, str, str, datetime], Tariff]


@dataclass(frozen=True)
class Evaluation:
    """The outcome; on refusal ``reason`` is set and the rest may be partial."""

    reason: Reason | None
    detail: str
    chain: Sequence[Account]
    levels: list[Level] = field(default_factory=list)
    tariffs: list[Tariff] = field(default_factory=list)
    books: list[int] = field(default_factory=list)
    counted: list[int] = field(default_factory=list)
    cap: int = 0
    max_duration: int = 0
    available: Decimal | None = None
    #: the funds of every balance read, by book (``Sources.book_of``), as read: before
    #: this call's hold (the doors report each paying level's balance from them)
    funds: Mapping[int, Funds] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Sources:
    """Where an evaluation reads funds and open calls (locked or not) from."""

    book_of: Callable[[Account], int]
    funds_of_book: Callable[[int], Funds]
    open_calls: Callable[[list[int]], dict[int, int]]
    #: a mutual partner's outbound balance (its linked vendor's); read only for those
    outbound_of: Callable[[Account], Decimal] = lambda account: Decimal(0)


def evaluate(
    chain: Sequence[Account],
    number: str,
    start: datetime,
    *,
    tariff_of: TariffOf,
    sources: Sources,
    system_max: int,
    shared_default: int | None = None,
) -> Evaluation:
    """``shared_default``: the operator default cap for a call without interim updates on
    a shared balance (see :func:`~voxbill.domain.charging.effective_call_cap`); None for
    a session with interim updates, which holds one chunk at a time."""

    def refuse(reason: Reason, detail: str, **known: object) -> Evaluation:
        return Evaluation(reason, detail, chain, **known)  # type: ignore[arg-type]

    funds_cache: dict[int, Funds] = {}

    def funds(account: Account) -> Funds:
        book = sources.book_of(account)
        if book not in funds_cache:
            funds_cache[book] = sources.funds_of_book(book)
        return funds_cache[book]

    why = rules.blocked(chain)
    if why is not None:
        return refuse(Reason.BLOCKED, why)
    why = partners.cut_off(chain, lambda a: funds(a).balance, sources.outbound_of)
    if why is not None:
        return refuse(Reason.CUT_OFF, why)
    levels = rules.levels(chain)
    if not levels:
        return refuse(Reason.NO_RATE, f"no rate plan for account {chain[0].id} or above it")
    tariffs = []
    operator_id = chain[0].operator_id  # every level's: one tree, one root
    for level in levels:
        try:
            tariff = tariff_of(operator_id, level.plan, number, start)
        except NotFound as exc:
            return refuse(Reason.NO_RATE, f"level {level.index}: {exc.message}")
        currency = tariff.rate(0).currency
        if currency != level.account.currency:
            return refuse(
                Reason.NO_RATE,
                f"plan {level.plan} is in {currency}, "
                f"account {level.account.id} in {level.account.currency}",
            )
        tariffs.append(tariff)
    books = [sources.book_of(level.account) for level in levels]
    headrooms = {
        book: funds(level.account).headroom() for book, level in zip(books, levels, strict=True)
    }
    known = {"levels": levels, "tariffs": tariffs, "books": books, "funds": funds_cache}
    available = funds(levels[0].account).available
    counted = [a.id for a in chain if rules.counted(a)]
    if counted:
        calls = sources.open_calls(counted)
        for account in chain:
            if account.id not in calls:
                continue
            low = account.limits.low_balance_concurrent_calls is not None
            limit = rules.concurrency_limit(account, funds(account) if low else None)
            if limit is not None and calls.get(account.id, 0) >= limit:
                return refuse(
                    Reason.CONCURRENCY_LIMIT,
                    f"account {account.id} has {calls.get(account.id, 0)} of {limit} calls open",
                    available=available,
                    **known,
                )
    for level, book in zip(levels, books, strict=True):
        if headrooms[book] <= 0:
            return refuse(
                Reason.INSUFFICIENT_FUNDS,
                f"account {level.account.id} has no funds above its block balance",
                available=available,
                **known,
            )
    cap = rules.effective_call_cap(chain, system_max, shared_default).seconds
    longest = cap
    for level, book, tariff in zip(levels, books, tariffs, strict=True):
        longest = min(longest, tariff.max_duration(rules.budget(level, headrooms[book]), cap))
    longest = rules.fit_shared_books(longest, books, [t.cost for t in tariffs], headrooms)
    if longest <= 0:
        return refuse(
            Reason.INSUFFICIENT_FUNDS,
            "the funds do not pay for the first billed block",
            available=available,
            **known,
        )
    return Evaluation(
        None,
        "allowed",
        chain,
        levels,
        tariffs,
        books,
        counted,
        cap,
        longest,
        available,
        funds_cache,
    )
