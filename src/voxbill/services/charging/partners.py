"""A mutual partner's outbound balance, for the call decision (``domain.partners``).

Read only for an account whose cutoff mode is ``mutual`` (the decision asks for nothing
else): one small unlocked query, the linked vendor's ledger balance. Unlocked on
purpose: a settle of a call the partner terminates may be moving it meanwhile, and a
start must not queue behind every call to that carrier; it sees the last committed value.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from voxbill.domain.accounts import Account
from voxbill.domain.money import ZERO
from voxbill.services.unit_of_work import Transaction


def outbound_of(tx: Transaction) -> Callable[[Account], Decimal]:
    """The outbound balance of a partner (its linked vendor's balance; 0 without one)."""

    def read(account: Account) -> Decimal:
        found = tx.accounts.partner_vendor(account.id)
        return ZERO if found is None else found[1]

    return read
