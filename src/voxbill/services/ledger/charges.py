"""Immediate charges: money taken at every level of a chain at once, with no hold.

For what is priced before it happens and cannot be partly delivered (a message, a DID
fee): the balances are locked in the one sorted order, every level's floor is checked
with all levels' amounts on the same balance added together, and one transaction
pays each level's amount to its seller (a reseller's balance, or the operator's revenue)
— or nothing happens.
"""

from __future__ import annotations

from collections.abc import Sequence

from voxbill.domain.errors import InvalidInput
from voxbill.domain.ledger import (
    Charge,
    ChargeRequest,
    Leg,
    Posting,
    SystemBook,
    TransactionKind,
    exact,
    norm,
)
from voxbill.domain.money import ZERO
from voxbill.services.ledger.journal import Journal


def validate_requests(
    requests: Sequence[ChargeRequest], kind: TransactionKind
) -> list[ChargeRequest]:
    if kind in (
        TransactionKind.CHARGE,
        TransactionKind.TOPUP,
        TransactionKind.TRANSFER,
        TransactionKind.VENDOR_CHARGE,
    ):
        # ``charge`` transactions are settled holds and ``vendor_charge`` ones CDR buy
        # legs: ledger verify matches them to those
        raise InvalidInput(f"an immediate charge cannot be of kind {kind}")
    if not requests:
        raise InvalidInput("a charge needs at least one level")
    checked = []
    for request in requests:
        amount = exact(request.amount, what="charge")
        if amount < ZERO:
            raise InvalidInput("a charge cannot be negative")
        checked.append(ChargeRequest(request.account_id, amount, request.seller_id))
    return checked


def charge(
    journal: Journal,
    requests: Sequence[ChargeRequest],
    *,
    kind: TransactionKind,
    actor: str,
    reason: str | None,
    reference: str | None,
) -> Charge:
    books = [journal.account_book(r.account_id) for r in requests]
    currencies = [journal.owner(r.account_id).currency for r in requests]
    credited = [
        journal.system_book(SystemBook.REVENUE, currency)
        if r.seller_id is None
        else journal.account_book(r.seller_id)
        for r, currency in zip(requests, currencies, strict=True)
    ]
    journal.lock([*books, *credited])  # one sorted pass; system books are never locked
    legs: list[Leg] = []
    for book, currency, request, credit in zip(books, currencies, requests, credited, strict=True):
        if request.amount > ZERO:
            legs += [Leg(book, -request.amount, currency), Leg(credit, request.amount, currency)]
    transaction_id = None
    if legs:
        applied = journal.post(
            Posting.of(legs),
            kind=kind.value,
            actor=actor,
            reason=reason,
            reference=reference,
            floors=set(books),
        )
        transaction_id = applied.transaction_id
    return Charge(transaction_id, tuple(norm(journal.balance_of(b)) for b in books))
