"""Price-change notices: a re-import that changes a plan's prices tells everyone it
prices, and every reseller that resells it, through the outbox (``price.changed``).

Written in the import's own transaction, so a notice exists exactly when the new prices
do. One event per account: an account rated by the plan (``rate_plan`` or ``sms_plan``)
hears what it will pay; a reseller above such accounts hears what its customers will pay
(with how many of its subtree's accounts the plan prices). The first import of a plan
changes no one's price and tells no one. An event lists at most
:data:`MOST_LISTED` changes, soonest first (``truncated`` says when there are more: the
whole list is ``GET /api/v1/rate-plans/{name}/changes``); notifications deliver it
(``docs/notifications.md``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from voxbill.domain.accounts import AccountKind
from voxbill.domain.ledger import money_text
from voxbill.domain.rate_changes import PriceChange, change_counts
from voxbill.domain.rates import PlanRecord
from voxbill.services.unit_of_work import Transaction

PRICE_CHANGED: Final = "price.changed"
#: The most changes one event lists (the rest are counted: ``changes_total``).
MOST_LISTED: Final = 100


def notice(plan: PlanRecord, import_id: int, changes: Sequence[PriceChange]) -> dict[str, Any]:
    """The event's data: the plan, the counts per kind of change and the changes,
    soonest effective first (then by prefix), at most :data:`MOST_LISTED` of them."""
    ordered = sorted(
        changes, key=lambda c: (c.effective_from is not None, c.effective_from, c.prefix)
    )
    return {
        "plan": plan.name,
        "currency": plan.currency,
        "import_id": import_id,
        "counts": change_counts(changes),
        "changes_total": len(changes),
        "truncated": len(changes) > MOST_LISTED,
        "changes": [
            {
                "prefix": c.prefix,
                "destination": c.destination,
                "time_profile": c.time_profile,
                "change": c.change,
                "old_rate": None if c.old_rate is None else money_text(c.old_rate),
                "new_rate": None if c.new_rate is None else money_text(c.new_rate),
                "effective_from": None
                if c.effective_from is None
                else c.effective_from.isoformat(),
            }
            for c in ordered[:MOST_LISTED]
        ],
    }


def tell(
    tx: Transaction,
    plan: PlanRecord,
    import_id: int,
    changes: Sequence[PriceChange],
    now: datetime,
) -> int:
    """Write the notices of an import that changed ``plan``'s prices; how many."""
    if not changes or plan.operator_id is None:
        return 0
    priced = tx.accounts.priced_by(plan.operator_id, plan.name)
    if not priced:
        return 0
    data = notice(plan, import_id, changes)
    direct = {account_id for account_id, _ in priced}
    below: Counter[int] = Counter()
    for account_id, path in priced:
        for ancestor in {int(part) for part in path.strip("/").split("/")} - {account_id}:
            below[ancestor] += 1
    resellers = []
    for ancestor in sorted(set(below) - direct):
        account = tx.accounts.get(ancestor)
        if account is not None and account.kind is AccountKind.RESELLER:
            resellers.append(ancestor)
    for account_id in sorted(direct):
        payload = {**data, "priced": "account"}
        tx.ledger.add_outbox_event(PRICE_CHANGED, account_id, json.dumps(payload), now)
    for reseller in resellers:
        payload = {**data, "priced": "subtree", "accounts_priced": below[reseller]}
        tx.ledger.add_outbox_event(PRICE_CHANGED, reseller, json.dumps(payload), now)
    return len(direct) + len(resellers)
