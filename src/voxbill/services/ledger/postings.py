"""The postings of the money movements, inside a journal that is already open: between
an account's balance and a system book or another balance, and across currencies.

Books are looked up (and so locked) in the same order as ever: the account's, then
the payer's; a transfer's source, then its target, then the FX books.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from voxbill.domain.errors import CurrencyMismatch, InvalidInput, NotFound
from voxbill.domain.ledger import (
    LedgerTransaction,
    Leg,
    Posting,
    SystemBook,
    TransactionKind,
    convert,
    norm,
)
from voxbill.services.ledger.journal import Journal


def external(
    journal: Journal,
    kind: TransactionKind,
    source: SystemBook,
    account_id: int,
    amount: Decimal,
    *,
    actor: str,
    reason: str | None,
    floor: bool,
    funded_by: int | None,
) -> LedgerTransaction:
    """Money between an account's balance and one of the operator's system books or,
    with ``funded_by``, that account's own balance (never below its floor)."""
    book = journal.account_book(account_id)
    currency = journal.owner(account_id).currency
    floors: list[int] = []
    if funded_by is None:
        payer = journal.system_book(source, currency)
    else:
        payer = funding_book(journal, funded_by, account_id)
        floors.append(payer)
    if floor:
        floors.append(book)
    posting = Posting.move(payer, book, amount, currency)
    applied = journal.post(posting, kind=kind.value, actor=actor, reason=reason, floors=floors)
    return result(journal, kind, account_id, book, amount, applied.transaction_id, reason)


def funding_book(journal: Journal, funded_by: int, account_id: int) -> int:
    """The payer's balance book: distinct from the account's, in the same currency."""
    payer = journal.account_book(funded_by)
    if payer == journal.account_book(account_id):
        raise InvalidInput(
            f"account {account_id} uses the balance of account {funded_by}: "
            "moving money between them would change nothing"
        )
    payer_currency = journal.owner(funded_by).currency
    currency = journal.owner(account_id).currency
    if payer_currency != currency:
        raise CurrencyMismatch(
            f"account {funded_by} pays in {payer_currency}, account {account_id} is in "
            f"{currency}: fund it with a transfer"
        )
    return payer


def transfer(
    journal: Journal,
    source_id: int,
    target_id: int,
    value: Decimal,
    *,
    actor: str,
    note: str | None,
) -> LedgerTransaction:
    """``value`` (in the source's currency) from one balance to another, converted at
    the current rate through the FX books when their currencies differ."""
    source_book = journal.account_book(source_id)
    target_book = journal.account_book(target_id)
    if source_book == target_book:
        raise InvalidInput(f"accounts {source_id} and {target_id} share one balance")
    source_cur = journal.owner(source_id).currency
    target_cur = journal.owner(target_id).currency
    if source_cur == target_cur:
        credited = value
        posting = Posting.move(source_book, target_book, value, source_cur)
    else:
        operator = books_operator(journal, source_id, target_id)
        rate = exchange_rate(journal, source_cur, target_cur, operator_id=operator, lock=True)
        credited = convert(value, rate, target_cur)
        posting = Posting.of(
            [
                Leg(source_book, -value, source_cur),
                Leg(journal.system_book(SystemBook.FX, source_cur), value, source_cur),
                Leg(journal.system_book(SystemBook.FX, target_cur), -credited, target_cur),
                Leg(target_book, credited, target_cur),
            ]
        )
    kind = TransactionKind.TRANSFER
    applied = journal.post(posting, kind=kind.value, actor=actor, reason=note, floors=[source_book])
    source_side = result(
        journal, kind, source_id, source_book, -value, applied.transaction_id, note
    )
    return replace(
        source_side,
        counterparty_account_id=target_id,
        counterparty_amount=credited,
        counterparty_balance_after=norm(journal.balance_of(target_book)),
    )


def result(
    journal: Journal,
    kind: TransactionKind,
    account_id: int,
    book_id: int,
    amount: Decimal,
    transaction_id: int,
    reason: str | None,
) -> LedgerTransaction:
    """The movement as the account sees it, with its balance after."""
    return LedgerTransaction(
        id=transaction_id,
        kind=kind.value,
        account_id=account_id,
        amount=amount,
        currency=journal.owner(account_id).currency,
        balance_after=norm(journal.balance_of(book_id)),
        reason=reason,
        created_at=journal.now,
    )


def books_operator(journal: Journal, *account_ids: int) -> int:
    """The operator whose rates convert between these accounts' books (one tree's)."""
    operators = {journal.tx.fx.operator_of_account(a) for a in account_ids}
    if len(operators) != 1:
        raise InvalidInput("the accounts belong to different operators: no exchange rate applies")
    (operator,) = operators
    if operator is None:
        raise NotFound(f"no account {account_ids[0]}")
    return operator


def exchange_rate(
    journal: Journal,
    base: str,
    quote: str,
    at: datetime | None = None,
    *,
    operator_id: int | None,
    lock: bool = False,
) -> Decimal:
    """1 ``base`` in ``quote`` at ``at`` (default: now) by the operator's rates, from a
    rate stored either way (``lock``: none of them changes before this commits)."""
    found = journal.tx.fx.fx_rate_at(base, quote, at or journal.now, operator_id, lock=lock)
    if found is None:
        raise NotFound(f"no exchange rate from {base} to {quote}", code="no_fx_rate")
    return found.of(base)
