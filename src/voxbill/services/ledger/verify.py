"""``ledger verify``: every maintained number recomputed from the journal and the holds.

Checks that each account balance equals the sum of its legs, each reserved amount the
sum of its open holds, each transaction and each currency sums to zero, every leg is in
its book's currency, every charge took from each balance what its posted holds say, and
every ``vendor_charge`` took from the vendor what the call's CDR buy leg says.
"""

from __future__ import annotations

from voxbill.domain.ledger import Discrepancy, money_text
from voxbill.domain.money import ZERO
from voxbill.services.ports.ledger import LedgerAuditRepository


def discrepancies(audit: LedgerAuditRepository) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    sums = audit.entry_sums_by_book()
    held = audit.open_hold_sums_by_book()
    for book in audit.books():
        if not book.maintained:
            continue
        subject = f"book {book.id} ({book.key})"
        expected = sums.get(book.id, ZERO)
        if book.balance != expected:
            found.append(
                Discrepancy("balance", subject, money_text(expected), money_text(book.balance))
            )
        reserved = held.get(book.id, ZERO)
        if book.reserved != reserved:
            found.append(
                Discrepancy("reserved", subject, money_text(reserved), money_text(book.reserved))
            )
    for currency, total in sorted(audit.currency_totals().items()):
        if total != ZERO:
            found.append(Discrepancy("currency_total", currency, "0", money_text(total)))
    for transaction_id, currency, total in audit.unbalanced_transactions():
        found.append(
            Discrepancy("transaction", f"{transaction_id} in {currency}", "0", money_text(total))
        )
    for entry_id, entry_currency, book_currency in audit.entries_in_wrong_currency():
        found.append(
            Discrepancy("entry_currency", f"entry {entry_id}", book_currency, entry_currency)
        )
    posted, charged = audit.posted_hold_sums(), audit.charge_debits()
    for charge_id, book_id in sorted(set(posted) | set(charged), key=str):
        said = posted.get((charge_id, book_id), ZERO)
        took = charged.get((charge_id, book_id), ZERO)
        if said != took:
            subject = f"transaction {charge_id} on book {book_id}"
            found.append(Discrepancy("charge", subject, money_text(said), money_text(took)))
    found += _vendor_charges(audit)
    return found


def _vendor_charges(audit: LedgerAuditRepository) -> list[Discrepancy]:
    took = audit.vendor_charge_debits()
    said = audit.buy_leg_costs(sorted(took))
    return [
        Discrepancy(
            "vendor_charge",
            f"session {session_id}",
            money_text(said.get(session_id, ZERO)),
            money_text(amount),
        )
        for session_id, amount in sorted(took.items())
        if said.get(session_id) != amount
    ]
