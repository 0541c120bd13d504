"""What the ledger answers: balances, transactions, history lines, holds, charges and
discrepancies — domain types (:mod:`voxbill.domain.ledger`, :mod:`voxbill.domain.holds`),
gathered here for the doors and the other contexts that read them."""

from __future__ import annotations

from voxbill.domain.holds import Hold, HoldRequest, HoldSettlement
from voxbill.domain.ledger import (
    BalanceView,
    Charge,
    ChargeRequest,
    Discrepancy,
    HistoryEntry,
    LedgerTransaction,
    money_text,
    norm,
    norm_or_none,
)

__all__ = [
    "BalanceView",
    "Charge",
    "ChargeRequest",
    "Discrepancy",
    "HistoryEntry",
    "Hold",
    "HoldRequest",
    "HoldSettlement",
    "LedgerTransaction",
    "money_text",
    "norm",
    "norm_or_none",
]
