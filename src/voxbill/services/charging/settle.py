"""Settling a session, inside the caller's ledger transaction: rate the duration at every
level, post the charges against the holds (releasing the rest), give back the open-call
counters, debit a prepaid vendor for its buy leg and write the CDR with every sell leg
and the buy leg — all committed together, exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from voxbill.domain import charging as rules
from voxbill.domain.charging import SessionStatus
from voxbill.domain.ledger import Funds
from voxbill.domain.rating import Rating, Tariff
from voxbill.domain.tariff_snapshot import thaw
from voxbill.services.charging import vendor as charging_vendor
from voxbill.services.charging.decision import TariffOf
from voxbill.services.ledger import holds_close as ledger_holds
from voxbill.services.ledger.answers import norm
from voxbill.services.ledger.journal import Journal
from voxbill.storage.accounts import repository as account_repository
from voxbill.storage.charging import cdrs as cdr_rows
from voxbill.storage.charging import sessions as repo
from voxbill.storage.ledger import books as ledger_rows


def levels_of(row: Any) -> list[dict[str, Any]]:
    levels: list[dict[str, Any]] = json.loads(row.levels)
    return levels


def session_tariffs(row: Any, tariff_of: TariffOf, conn: Connection) -> list[Tariff]:
    """Each level's tariff as frozen at the call's start (sessions opened before the
    snapshots existed fall back to the plan, of the caller's operator, as it is now)."""
    levels = levels_of(row)
    if all("tariff" in lv for lv in levels):
        return [thaw(lv["tariff"], row.callee, row.started_at) for lv in levels]
    caller = account_repository.get(conn, row.account_id)
    assert caller is not None  # sessions reference accounts, which are never deleted
    return [
        thaw(lv["tariff"], row.callee, row.started_at)
        if "tariff" in lv
        else tariff_of(caller.operator_id, lv["plan"], row.callee, row.started_at)
        for lv in levels
    ]


def available(journal: Journal, account_id: int) -> Decimal:
    """What ``account_id`` may still spend (balance + credit - holds), read in ``journal``
    (from the book's locked state when the journal holds it: the same values)."""
    owner = journal.owner(account_id)
    book: Any = journal.locked_book(account_id)
    if book is None:
        key = ledger_rows.account_book_key(owner.balance_account_id)
        book = ledger_rows.find_book(journal.conn, key)
    funds = Funds(
        balance=Decimal(0) if book is None else book.balance,
        reserved=Decimal(0) if book is None else book.reserved,
        billing=owner.billing,
        credit_limit=owner.credit_limit,
        block_balance=owner.block_balance,
        alert_balance=owner.alert_balance,
    )
    return norm(funds.available)


def _know_owners(journal: Journal, row: Any, levels: list[dict[str, Any]]) -> str:
    """Read the caller's, the levels' and the sellers' accounts in one query, hand their
    balance owners to the journal; the caller's path (for the CDR)."""
    ids = {row.account_id, *(lv["account_id"] for lv in levels)}
    ids |= {lv["seller_id"] for lv in levels if lv.get("seller_id") is not None}
    rows = ledger_rows.owner_rows(journal.conn, ids)
    journal.know_owners(ledger_rows.balance_owner(journal.conn, i, rows) for i in sorted(ids))
    caller = rows.get(row.account_id)
    assert caller is not None  # sessions reference accounts, which are never deleted
    return str(caller.path)


def _buy_leg(level: int, vendor: charging_vendor.VendorLeg | None) -> list[dict[str, Any]]:
    if vendor is None:
        return []
    rating = vendor.rating
    return [
        {
            "level": level,
            "account_id": vendor.account.id,
            "plan": rating.plan,
            "prefix": rating.prefix,
            "destination": rating.destination,
            "rate": rating.rate,
            "billed_seconds": rating.billed_seconds,
            "cost": rating.cost,
            "currency": rating.currency,
            "margin": None,
            "side": "buy",
        }
    ]


def settle(
    journal: Journal,
    row: Any,
    duration: int,
    *,
    tariff_of: TariffOf,
    settled_by: str,
    holds: Sequence[Any] = (),
) -> tuple[int, list[Rating], bool]:
    """Charge ``duration`` seconds of the open session ``row``; (cdr id, ratings, overrun).
    ``holds``: its hold rows, if the caller locked them with the session's."""
    levels = levels_of(row)
    tariffs = session_tariffs(row, tariff_of, journal.conn)
    ratings = [tariff.rate(duration) for tariff in tariffs]
    path = _know_owners(journal, row, levels)
    vendor = charging_vendor.rate(journal, row, duration, tariff_of)
    overrun = duration > row.granted_seconds
    sellers = [lv.get("seller_id") for lv in levels]  # sessions of old: operator revenue
    extra = charging_vendor.books_to_lock(journal, vendor)
    extra += [journal.account_book(s) for s in sellers if s is not None]
    # the system's lock order: hold rows, then every balance in one pass
    holds = holds or ledger_holds.locked_holds(journal, row.session_id)
    journal.lock([journal.account_book(lv["account_id"]) for lv in levels] + extra)
    ledger_holds.post_locked(
        journal, holds, [r.cost for r in ratings], f"charging:{settled_by}", sellers
    )
    if vendor is not None:
        charging_vendor.debit(journal, row.session_id, vendor, f"charging:{settled_by}")
    counted = json.loads(row.counted)
    if counted:
        repo.lock_counters(journal.conn, counted)
        repo.add_open_calls(journal.conn, counted, -1)
    margins = rules.margins([(r.cost, r.currency) for r in ratings])
    first = ratings[0]
    cdr_id = cdr_rows.insert_cdr(
        journal.conn,
        {
            "session_id": row.session_id,
            "account_id": row.account_id,
            "path": path,
            "caller": row.caller,
            "callee": row.callee,
            "started_at": row.started_at,
            "duration": duration,
            "billed_seconds": first.billed_seconds,
            "cost": first.cost,
            "currency": first.currency,
            "rate": first.rate,
            "prefix": first.prefix,
            "destination": first.destination,
            "overrun": overrun,
            "settled_by": settled_by,
            "created_at": journal.now,
            "vendor_id": None if vendor is None else vendor.account.id,
            "vendor_cost": None if vendor is None else vendor.rating.cost,
            "vendor_currency": None if vendor is None else vendor.rating.currency,
            "margin": None
            if vendor is None
            else charging_vendor.margin(journal.conn, ratings[-1], vendor, row.started_at),
        },
        [
            {
                "level": index,
                "account_id": level["account_id"],
                "plan": rating.plan,
                "prefix": rating.prefix,
                "destination": rating.destination,
                "rate": rating.rate,
                "billed_seconds": rating.billed_seconds,
                "cost": rating.cost,
                "currency": rating.currency,
                "margin": margin,
                "side": "sell",
            }
            for index, (level, rating, margin) in enumerate(
                zip(levels, ratings, margins, strict=True)
            )
        ]
        + _buy_leg(len(levels), vendor),
        settles=(
            row.session_id,
            {
                "status": SessionStatus.SETTLED.value,
                "used_seconds": duration,
                "settled_at": journal.now,
                "updated_at": journal.now,
            },
        ),
    )
    return cdr_id, ratings, overrun
