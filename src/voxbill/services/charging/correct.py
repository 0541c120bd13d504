"""A stop that arrives after the sweeper settled its session: the charge is corrected to
the actual duration through the ledger, never edited.

The call is re-rated at every level (and the buy leg) from the tariffs frozen at its
start; each level's difference from what the sweeper charged moves in one ``correction``
transaction referencing the session (the caller pays more, or is refunded, and its
seller likewise), the vendor's in one more ``vendor_charge``. No floor refuses
it: the call has happened (as an overrun is charged). The CDR keeps what the sweeper
charged (``swept_*``) and shows the corrected values with ``corrected_at``. Once
corrected, the session's stop replays: the same late stop again, or on another node at
the same time (it waits for the session's lock, then finds the correction), moves
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from voxbill.domain import charging as rules
from voxbill.domain.cdrs import Cdr, CdrLeg
from voxbill.domain.charging_decision import TariffOf
from voxbill.domain.ledger import Leg, Posting, SystemBook, TransactionKind, norm
from voxbill.domain.money import ZERO
from voxbill.domain.rating import Rating
from voxbill.domain.sessions import ChargingSession
from voxbill.services.charging import fraud, rollup, vendor
from voxbill.services.charging.answers import settled
from voxbill.services.charging.results import SessionSettlement
from voxbill.services.charging.settle import available, know_owners, sell_legs, session_tariffs
from voxbill.services.ledger.journal import Journal


def correct_in(
    journal: Journal,
    session: ChargingSession,
    holds: Sequence[Any],
    duration: int,
    *,
    tariff_of: TariffOf,
) -> SessionSettlement:
    """The stop of a settled ``session`` (its row and ``holds`` locked): a correction
    when the sweeper settled it and nobody corrected it yet, else the replay."""
    tx = journal.tx
    swept = tx.cdrs.by_session(session.session_id)
    assert swept is not None  # a settled session always has its CDR
    if swept.settled_by != "sweeper" or swept.corrected_at is not None:
        return settled(journal, session)
    was = tx.cdrs.legs_of([swept.id])[swept.id]
    ratings = [t.rate(duration) for t in session_tariffs(session, tariff_of, tx)]
    know_owners(journal, session)
    bought = vendor.rate(journal, session, duration, tariff_of)
    levels = session.levels
    sellers = [
        None if lv.seller_id is None else journal.account_book(lv.seller_id) for lv in levels
    ]
    books = [journal.account_book(lv.account_id) for lv in levels]
    extra = [journal.account_book(bought.account.id)] if bought is not None else []
    journal.lock(books + [s for s in sellers if s is not None] + extra)  # one sorted pass
    sold = [leg for leg in was if leg.side == "sell"]
    charge_id = next((h.transaction_id for h in holds if h.transaction_id is not None), None)
    reason = _reason(swept, duration, charge_id)
    moves = rules.corrections([leg.cost for leg in sold], [r.cost for r in ratings])
    currencies = [h.currency for h in sorted(holds, key=lambda h: h.level)]  # as charged
    legs: list[Leg] = []
    for book, seller, cur, move in zip(books, sellers, currencies, moves, strict=True):
        if move != ZERO:
            credit = journal.system_book(SystemBook.REVENUE, cur) if seller is None else seller
            legs += [Leg(book, -move, cur), Leg(credit, move, cur)]
    if legs:
        journal.post(
            Posting.of(legs),
            kind=TransactionKind.CORRECTION.value,
            actor="charging:stop",
            reason=reason,
            reference=session.session_id,
        )
    fraud.corrected(tx, session, moves)  # spend caps count the corrected charge
    if bought is not None:
        vendor.correct(journal, session.session_id, bought, swept.vendor_cost or ZERO, reason)
    corrected = _corrected(journal, session, swept, was, duration, ratings, bought)
    tx.cdrs.correct(corrected)
    rollup.corrected(tx, swept, was, corrected)  # the dashboard's minutes, if rolled up
    tx.sessions.update_session(session.session_id, used_seconds=duration, updated_at=journal.now)
    first = ratings[0]
    return SessionSettlement(
        session_id=session.session_id,
        account_id=session.account_id,
        duration=duration,
        billed_seconds=first.billed_seconds,
        cost=norm(first.cost),
        currency=first.currency,
        balance=available(journal, session.account_id),
        cdr_id=swept.id,
        overrun=corrected.overrun,
        corrected=True,
    )


def _reason(swept: Cdr, duration: int, charge_id: int | None) -> str:
    """The correction's link: what it corrects and why."""
    what = f"transaction {charge_id}" if charge_id is not None else "a charge of nothing"
    return (
        f"correction of {what}: stop after the sweeper ({swept.settled_reason or 'sweep'}), "
        f"{duration} s instead of {swept.duration} s"
    )


def _corrected(
    journal: Journal,
    session: ChargingSession,
    swept: Cdr,
    was: Sequence[CdrLeg],
    duration: int,
    ratings: Sequence[Rating],
    bought: vendor.VendorLeg | None,
) -> Cdr:
    """The CDR at the actual duration, keeping what the sweeper charged."""
    before = {(leg.side, leg.level): leg.cost for leg in was}
    legs = [
        replace(leg, swept_cost=before[("sell", leg.level)]) for leg in sell_legs(session, ratings)
    ]
    if bought is not None:
        level, rating = len(session.levels), bought.rating
        old = next(leg for leg in was if leg.side == "buy")
        legs.append(
            replace(
                old,
                rate=rating.rate,
                billed_seconds=rating.billed_seconds,
                cost=rating.cost,
                swept_cost=before[("buy", level)],
            )
        )
    first = ratings[0]
    return replace(
        swept,
        duration=duration,
        billed_seconds=first.billed_seconds,
        rate=first.rate,
        cost=first.cost,
        overrun=duration > session.granted_seconds,
        legs=tuple(legs),
        vendor_cost=None if bought is None else bought.rating.cost,
        margin=None
        if bought is None
        else vendor.margin(journal.tx, ratings[-1], bought, session.started_at),
        corrected_at=journal.now,
        swept_duration=swept.duration,
        swept_cost=swept.cost,
        swept_vendor_cost=swept.vendor_cost,
    )
