"""Money movements: top-ups, adjustments, refunds, transfers and immediate charges.

Each is one unit of work (see :mod:`voxbill.services.ledger.transactions`) that locks
the balance rows it touches, checks the floor, appends the legs, updates the maintained
balances and records the idempotency key; the postings are in
:mod:`voxbill.services.ledger.postings`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from voxbill.domain.errors import InvalidInput
from voxbill.domain.ledger import (
    Charge,
    ChargeRequest,
    LedgerTransaction,
    SystemBook,
    TransactionKind,
    exact,
    positive,
)
from voxbill.domain.money import ZERO, canonical
from voxbill.services.ledger import charges as ledger_charges
from voxbill.services.ledger import postings as ledger_postings
from voxbill.services.ledger.transactions import Caller, Guard, LedgerUnitOfWork
from voxbill.services.unit_of_work import Transaction


class MoneyMovements(LedgerUnitOfWork):
    """Top-ups, adjustments, refunds, transfers and immediate charges (a mixin of
    :class:`~voxbill.services.ledger.service.LedgerService`)."""

    def _external(
        self,
        kind: TransactionKind,
        source: SystemBook,
        account_id: int,
        amount: Decimal,
        reason: str | None,
        caller: Caller,
        *,
        floor: bool = False,
        funded_by: int | None = None,
    ) -> LedgerTransaction:
        """Once per key: see :func:`voxbill.services.ledger.postings.external`."""
        request = {
            "account_id": account_id,
            "amount": canonical(amount),
            "reason": reason,
            "floor": floor,
            "funded_by": funded_by,
        }
        return self._once(
            kind.value,
            request,
            caller,
            lambda journal: ledger_postings.external(
                journal,
                kind,
                source,
                account_id,
                amount,
                actor=caller.actor,
                reason=reason,
                floor=floor,
                funded_by=funded_by,
            ),
        )

    def top_up(
        self,
        account_id: int,
        amount: Decimal,
        *,
        actor: str,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        note: str | None = None,
        guard: Guard | None = None,
    ) -> LedgerTransaction:
        """Operator money in: from the cash (payments) book to the account's balance."""
        caller = Caller(actor, idempotency_key, idempotency_scope, fingerprint, guard)
        value = positive(amount)
        return self._external(
            TransactionKind.TOPUP, SystemBook.CASH, account_id, value, note, caller
        )

    def adjust(
        self,
        account_id: int,
        amount: Decimal,
        reason: str,
        *,
        actor: str,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        force: bool = False,
        funded_by: int | None = None,
        guard: Guard | None = None,
    ) -> LedgerTransaction:
        """± correction with a reason (the "decrement API"); a debit respects the floor
        unless ``force`` (operator only: the caller checks who may force).

        Against the operator's adjustments book, or with ``funded_by`` against that
        account's balance: a reseller pays for a credit it gives, and a debit returns
        the money to it — so no one but the operator creates money."""
        caller = Caller(actor, idempotency_key, idempotency_scope, fingerprint, guard)
        value = exact(amount)
        if value == ZERO:
            raise InvalidInput("an adjustment needs a non-zero amount")
        return self._external(
            TransactionKind.ADJUSTMENT,
            SystemBook.ADJUSTMENTS,
            account_id,
            value,
            _reason(reason, "an adjustment needs a reason"),
            caller,
            floor=value < ZERO and not force,
            funded_by=funded_by,
        )

    def refund(
        self,
        account_id: int,
        amount: Decimal,
        reason: str,
        *,
        actor: str,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        funded_by: int | None = None,
        guard: Guard | None = None,
    ) -> LedgerTransaction:
        """Money given back to the account (a disputed call, a failed service), from the
        operator's refunds book or, with ``funded_by``, from that account's balance."""
        caller = Caller(actor, idempotency_key, idempotency_scope, fingerprint, guard)
        given = _reason(reason, "a refund needs a reason")
        return self._external(
            TransactionKind.REFUND,
            SystemBook.REFUNDS,
            account_id,
            positive(amount),
            given,
            caller,
            funded_by=funded_by,
        )

    def transfer(
        self,
        source_id: int,
        target_id: int,
        amount: Decimal,
        *,
        actor: str,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        note: str | None = None,
        guard: Guard | None = None,
    ) -> LedgerTransaction:
        """A reseller funds another balance from its own; ``amount`` is in the source's
        currency. The result is the source's side (amount negative); the counterparty is
        the target, with what it was credited (in its currency) and its balance after.
        Who may fund whom is the caller's policy (tenancy), not the ledger's."""
        caller = Caller(actor, idempotency_key, idempotency_scope, fingerprint, guard)
        value = positive(amount)
        request = {
            "source_id": source_id,
            "target_id": target_id,
            "amount": canonical(value),
            "note": note,
        }
        return self._once(
            TransactionKind.TRANSFER.value,
            request,
            caller,
            lambda journal: ledger_postings.transfer(
                journal, source_id, target_id, value, actor=actor, note=note
            ),
        )

    def charge(
        self,
        requests: Sequence[ChargeRequest],
        *,
        kind: TransactionKind,
        actor: str = "system",
        reason: str | None = None,
        reference: str | None = None,
        then: Callable[[Transaction, Charge], object] | None = None,
    ) -> Charge:
        """Charge every level of a chain at once (no hold), never below any floor.

        ``then`` runs in the same transaction once the money moved (e.g. writing the
        message record, whose unique key makes the charge idempotent): both commit or
        neither does, and an error it raises (such as a duplicate's
        :class:`~voxbill.services.unit_of_work.WriteConflict`) leaves no trace.
        """
        checked = ledger_charges.validate_requests(requests, kind)
        with self._journal() as journal:
            result = ledger_charges.charge(
                journal, checked, kind=kind, actor=actor, reason=reason, reference=reference
            )
            if then is not None:
                then(journal.tx, result)
            return result


def _reason(reason: str, missing: str) -> str:
    """A movement's stated reason, stripped; ``missing`` is the error when it is blank."""
    if not reason or not reason.strip():
        raise InvalidInput(missing)
    return reason.strip()
