"""The vendor (buy) leg of a call: the carrier chosen at the start, rated by its own deck.

At the start the vendor is checked (a vendor account of the caller's operator whose deck
prices the number then, and not cut off on its outbound balance: ``cut_off``) and its
deck's name and tariff (the matched rows, frozen) kept on the session. At settle the leg
is rated from that tariff by the same engine as every sell level, and its cost is taken
from the vendor's balance in the settle transaction (kind ``vendor_charge``, into the
PURCHASES book) whatever the vendor's cutoff mode: the vendor's balance is always the
outbound position (what we paid it - what it billed us; negative: we owe it), and
least-cost routing cuts an ``outbound`` carrier off when it is spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from voxbill.domain import charging as rules
from voxbill.domain import partners
from voxbill.domain.accounts import Account, AccountKind, CutoffMode
from voxbill.domain.charging import Reason
from voxbill.domain.charging_decision import TariffOf
from voxbill.domain.errors import InvalidInput, NotFound
from voxbill.domain.ledger import Leg, Posting, SystemBook, TransactionKind
from voxbill.domain.money import ZERO
from voxbill.domain.rating import Rating, Tariff
from voxbill.domain.sessions import ChargingSession
from voxbill.domain.tariff_snapshot import thaw
from voxbill.services.charging.results import ChargingRefused, refusal
from voxbill.services.ledger.journal import Journal
from voxbill.services.unit_of_work import Transaction


@dataclass(frozen=True)
class VendorLeg:
    """The buy leg: what the carrier billed for the call, and whether it is debited (it
    is whenever it cost something)."""

    account: Account
    rating: Rating
    debited: bool


def vendor_plan(
    tx: Transaction,
    vendor_id: int,
    chain: Sequence[Account],
    number: str,
    start: datetime,
    tariff_of: TariffOf,
) -> tuple[str, Tariff]:
    """The deck the vendor's leg will be rated by, and its tariff for this call (frozen
    on the session); refuses a vendor the call cannot use."""
    vendor = tx.accounts.get(vendor_id)
    if (
        vendor is None
        or vendor.kind is not AccountKind.VENDOR
        or vendor.operator_id != chain[0].operator_id
    ):
        raise InvalidInput(f"no vendor {vendor_id} under this operator", code="invalid_vendor")
    plan = vendor.plans.rate_plan
    if plan is None:
        raise InvalidInput(f"vendor {vendor_id} has no rate plan", code="invalid_vendor")
    check_not_cut_off(tx, vendor)
    try:
        tariff = tariff_of(vendor.operator_id, plan, number, start)
    except NotFound as exc:
        raise InvalidInput(
            f"vendor {vendor_id} has no rate for {number}: {exc.message}", code="invalid_vendor"
        ) from exc
    return plan, tariff


def rate(
    journal: Journal, session: ChargingSession, duration: int, tariff_of: TariffOf
) -> VendorLeg | None:
    """The session's buy leg for ``duration`` seconds (None: no vendor was given)."""
    if session.vendor_id is None:
        return None
    vendor = journal.tx.accounts.get(session.vendor_id)
    assert vendor is not None  # sessions reference accounts, which are never deleted
    callee, start = session.callee, session.started_at
    if session.vendor_tariff is not None:
        tariff = thaw(session.vendor_tariff, callee, start)
    else:  # a session opened before the buy leg's tariff was frozen
        assert session.vendor_plan is not None  # kept with the vendor since the buy leg
        tariff = tariff_of(vendor.operator_id, session.vendor_plan, callee, start)
    rating = tariff.rate(duration)
    return VendorLeg(vendor, rating, rating.cost > ZERO)


def check_not_cut_off(tx: Transaction, vendor: Account) -> None:
    """Refuse ``cut_off`` a call sent to a vendor explicitly while its governing mode
    (its partner's when linked, else its own) is ``outbound`` and its balance is spent.
    Reads nothing more for a vendor without a link or an ``outbound`` mode."""
    partner_mode = None
    if vendor.partner_id is not None:
        partner = tx.accounts.get(vendor.partner_id)
        partner_mode = None if partner is None else partner.balance.cutoff_mode
    mode = partners.vendor_mode(vendor, partner_mode)
    if mode is not CutoffMode.OUTBOUND:
        return
    balance = tx.sessions.balances([vendor.id]).get(vendor.id, (ZERO, ZERO))[0]
    if partners.outbound_cut(mode, balance):
        raise ChargingRefused(
            refusal(Reason.CUT_OFF),
            f"call refused: vendor {vendor.id} is cut off (outbound: balance {balance} ≤ 0)",
        )


def books_to_lock(journal: Journal, leg: VendorLeg | None) -> list[int]:
    """The vendor's balance, when settling debits it (locked with the payers' books)."""
    return [journal.account_book(leg.account.id)] if leg is not None and leg.debited else []


def debit(journal: Journal, session_id: str, leg: VendorLeg, actor: str) -> None:
    """Take the buy cost from the vendor's balance, never refused: the call is over (a
    spent balance goes below zero; routing stops choosing an ``outbound`` vendor)."""
    if not leg.debited:
        return
    cost, currency = leg.rating.cost, leg.rating.currency
    book = journal.account_book(leg.account.id)
    purchases = journal.system_book(SystemBook.PURCHASES, currency)
    journal.post(
        Posting.of([Leg(book, -cost, currency), Leg(purchases, cost, currency)]),
        kind=TransactionKind.VENDOR_CHARGE.value,
        actor=actor,
        reference=session_id,
    )


def correct(journal: Journal, session_id: str, leg: VendorLeg, swept: Decimal, reason: str) -> None:
    """A late stop's correction of the vendor's debit: the actual buy cost minus
    the sweeper's (``swept``), taken (or given back) as one more ``vendor_charge`` of the
    session, whose ``reason`` says it corrects — so the session's vendor charges still
    add up to its CDR buy leg (``ledger verify``). Never refused: the call is over."""
    difference = leg.rating.cost - swept
    if difference == ZERO:
        return
    currency = leg.rating.currency
    book = journal.account_book(leg.account.id)
    purchases = journal.system_book(SystemBook.PURCHASES, currency)
    journal.post(
        Posting.of([Leg(book, -difference, currency), Leg(purchases, difference, currency)]),
        kind=TransactionKind.VENDOR_CHARGE.value,
        actor="charging:stop",
        reason=reason,
        reference=session_id,
    )


def margin(tx: Transaction, paid: Rating, leg: VendorLeg, at: datetime) -> Decimal | None:
    """The operator's margin: its top payer's cost minus the vendor's, converted with the
    operator's own exchange rate at the call's start when the currencies differ (None
    without one: never another operator's rate)."""
    source, target = leg.rating.currency, paid.currency
    fx: Decimal | None = Decimal(1)
    if source != target:
        found = tx.fx.fx_rate_at(source, target, at, leg.account.operator_id, lock=True)
        fx = None if found is None else found.rate if found.base == source else 1 / found.rate
    return rules.operator_margin(paid.cost, leg.rating.cost, fx)
