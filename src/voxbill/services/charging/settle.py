"""Settling a session, inside the caller's ledger transaction: rate the duration at every
level, post the charges against the holds (releasing the rest), give back the open-call
counters, debit a prepaid vendor for its buy leg and write the CDR with every sell leg
and the buy leg — all committed together, exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from voxbill.domain import charging as rules
from voxbill.domain.cdrs import Cdr, CdrLeg
from voxbill.domain.charging_decision import TariffOf
from voxbill.domain.ledger import Funds, norm
from voxbill.domain.rating import Rating, Tariff
from voxbill.domain.sessions import ChargingSession
from voxbill.domain.tariff_snapshot import thaw
from voxbill.services.charging import fraud, vendor
from voxbill.services.ledger import holds_close as ledger_holds
from voxbill.services.ledger.journal import Journal
from voxbill.services.unit_of_work import Transaction


def session_tariffs(session: ChargingSession, tariff_of: TariffOf, tx: Transaction) -> list[Tariff]:
    """Each level's tariff as frozen at the call's start (sessions opened before the
    snapshots existed fall back to the plan, of the caller's operator, as it is now)."""
    callee, start = session.callee, session.started_at
    tariffs: list[Tariff] = []
    operator_id: int | None = None
    for level in session.levels:
        if level.tariff is not None:
            tariffs.append(thaw(level.tariff, callee, start))
            continue
        if operator_id is None:
            caller = tx.accounts.get(session.account_id)
            assert caller is not None  # sessions reference accounts, never deleted
            operator_id = caller.operator_id
        tariffs.append(tariff_of(operator_id, level.plan, callee, start))
    return tariffs


def available(journal: Journal, account_id: int) -> Decimal:
    """What ``account_id`` may still spend (balance + credit - holds), read in ``journal``
    (from the book's locked state when the journal holds it: the same values)."""
    owner = journal.owner(account_id)
    book = journal.locked_book(account_id)
    if book is not None:
        balance, reserved = book.balance, book.reserved
    else:
        found = journal.tx.sessions.balances([owner.balance_account_id])
        balance, reserved = found.get(owner.balance_account_id, (Decimal(0), Decimal(0)))
    funds = Funds(
        balance=balance,
        reserved=reserved,
        billing=owner.billing,
        credit_limit=owner.credit_limit,
        block_balance=owner.block_balance,
        alert_balance=owner.alert_balance,
    )
    return norm(funds.available)


def know_owners(journal: Journal, session: ChargingSession) -> str:
    """Read the caller's, the levels' and the sellers' accounts in one query, hand their
    balance owners to the journal; the caller's path (for the CDR)."""
    levels = session.levels
    ids = {session.account_id, *(lv.account_id for lv in levels)}
    ids |= {lv.seller_id for lv in levels if lv.seller_id is not None}
    ledger = journal.tx.ledger
    rows = ledger.owner_rows(ids)
    journal.know_owners(ledger.balance_owner(i, rows) for i in sorted(ids))
    caller = rows.get(session.account_id)
    assert caller is not None  # sessions reference accounts, which are never deleted
    return str(caller.path)


def buy_leg(level: int, bought: vendor.VendorLeg | None) -> tuple[CdrLeg, ...]:
    if bought is None:
        return ()
    rating = bought.rating
    return (
        CdrLeg(
            level=level,
            account_id=bought.account.id,
            plan=rating.plan,
            prefix=rating.prefix,
            destination=rating.destination,
            rate=rating.rate,
            billed_seconds=rating.billed_seconds,
            cost=rating.cost,
            currency=rating.currency,
            margin=None,
            side="buy",
        ),
    )


def sell_legs(session: ChargingSession, ratings: Sequence[Rating]) -> tuple[CdrLeg, ...]:
    """The CDR's sell legs: each level's rating and its margin over the level below."""
    margins = rules.margins([(r.cost, r.currency) for r in ratings])
    return tuple(
        CdrLeg(
            level=index,
            account_id=level.account_id,
            plan=rating.plan,
            prefix=rating.prefix,
            destination=rating.destination,
            rate=rating.rate,
            billed_seconds=rating.billed_seconds,
            cost=rating.cost,
            currency=rating.currency,
            margin=margin,
        )
        for index, (level, rating, margin) in enumerate(
            zip(session.levels, ratings, margins, strict=True)
        )
    )


def settle(
    journal: Journal,
    session: ChargingSession,
    duration: int,
    *,
    tariff_of: TariffOf,
    settled_by: str,
    reason: str | None = None,
    holds: Sequence[Any] = (),
) -> tuple[int, list[Rating], bool]:
    """Charge ``duration`` seconds of the open ``session``; (cdr id, ratings, overrun).
    ``reason``: why the sweeper charged that (the CDR's ``settled_reason``). ``holds``:
    its hold rows, if the caller locked them with the session's."""
    tx = journal.tx
    levels = session.levels
    tariffs = session_tariffs(session, tariff_of, tx)
    ratings = [tariff.rate(duration) for tariff in tariffs]
    path = know_owners(journal, session)
    bought = vendor.rate(journal, session, duration, tariff_of)
    overrun = duration > session.granted_seconds
    sellers = [lv.seller_id for lv in levels]  # sessions of old: operator revenue
    extra = vendor.books_to_lock(journal, bought)
    extra += [journal.account_book(s) for s in sellers if s is not None]
    # the system's lock order: hold rows, then every balance in one pass
    holds = holds or ledger_holds.locked_holds(journal, session.session_id)
    journal.lock([journal.account_book(lv.account_id) for lv in levels] + extra)
    ledger_holds.post_locked(
        journal, holds, [r.cost for r in ratings], f"charging:{settled_by}", sellers
    )
    if bought is not None:
        vendor.debit(journal, session.session_id, bought, f"charging:{settled_by}")
    if session.counted:
        tx.sessions.lock_counters(session.counted)
        tx.sessions.add_open_calls(session.counted, -1)
    fraud.settled(tx, session, tariffs, ratings)  # spend caps: the charge, not the grant
    sold = sell_legs(session, ratings)
    first = ratings[0]
    cdr = Cdr(
        id=0,  # the repository's to give
        session_id=session.session_id,
        account_id=session.account_id,
        caller=session.caller,
        callee=session.callee,
        started_at=session.started_at,
        duration=duration,
        billed_seconds=first.billed_seconds,
        rate=first.rate,
        cost=first.cost,
        currency=first.currency,
        prefix=first.prefix,
        destination=first.destination,
        overrun=overrun,
        settled_by=settled_by,
        settled_reason=reason,
        created_at=journal.now,
        legs=sold + buy_leg(len(levels), bought),
        vendor_id=None if bought is None else bought.account.id,
        vendor_cost=None if bought is None else bought.rating.cost,
        vendor_currency=None if bought is None else bought.rating.currency,
        margin=None
        if bought is None
        else vendor.margin(tx, ratings[-1], bought, session.started_at),
    )
    cdr_id = tx.cdrs.insert_cdr(cdr, path=path, settles=True)
    return cdr_id, ratings, overrun
