"""The holds' use cases of :class:`~voxbill.services.ledger.service.LedgerService`: funds
reserved at every level of a call's chain, then posted, voided or expired.

The three holds modules: this one opens a unit of work per use case (retried when a
concurrent twin placed the same reference first); the rules run inside it, in
:mod:`voxbill.services.ledger.holds_open` (place, extend, read) and
:mod:`voxbill.services.ledger.holds_close` (post, void, expire; the entry point that
charging uses inside its own units of work).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from voxbill.domain.holds import Hold, HoldRequest, HoldSettlement
from voxbill.domain.ledger import exact, positive
from voxbill.services.ledger import holds_close as ledger_holds
from voxbill.services.ledger.transactions import LedgerUnitOfWork


class HoldUseCases(LedgerUnitOfWork):
    """Placing, extending, posting, voiding, reading and expiring holds (a mixin of
    :class:`~voxbill.services.ledger.service.LedgerService`)."""

    def place_holds(
        self,
        reference: str,
        requests: Sequence[HoldRequest],
        *,
        expires_at: datetime,
        actor: str = "system",
    ) -> list[Hold]:
        """Reserve funds at every level of a chain, all or none; the same reference again
        returns the holds already placed (``replayed``) and reserves nothing more."""
        checked = ledger_holds.validate_requests(reference, requests, expires_at)
        return self._retrying(
            lambda journal: ledger_holds.place(journal, reference, checked, expires_at)
        )

    def place_hold(
        self,
        account_id: int,
        amount: Decimal,
        *,
        reference: str,
        expires_at: datetime,
        actor: str = "system",
    ) -> Hold:
        request = HoldRequest(account_id, amount)
        return self.place_holds(reference, [request], expires_at=expires_at, actor=actor)[0]

    def extend_holds(
        self, reference: str, amounts: Sequence[Decimal], *, expires_at: datetime
    ) -> list[Hold]:
        """Grow open holds to ``amounts`` (per level) and push their expiry (interim updates)."""
        totals = [positive(a, what="hold amount") for a in amounts]
        return self._retrying(
            lambda journal: ledger_holds.extend(journal, reference, totals, expires_at)
        )

    def post_holds(
        self,
        reference: str,
        amounts: Sequence[Decimal],
        *,
        actor: str = "system",
        allow_overrun: bool = False,
    ) -> HoldSettlement:
        """Charge ``amounts`` (per level, each ≤ its hold unless ``allow_overrun``) and
        release the rest, exactly once; the same call again replays the settlement."""
        charges = [exact(a, what="charge") for a in amounts]
        return self._retrying(
            lambda journal: ledger_holds.post(journal, reference, charges, actor, allow_overrun)
        )

    def post_hold(
        self,
        reference: str,
        amount: Decimal,
        *,
        actor: str = "system",
        allow_overrun: bool = False,
    ) -> HoldSettlement:
        """:meth:`post_holds` for a single-level hold."""
        return self.post_holds(reference, [amount], actor=actor, allow_overrun=allow_overrun)

    def void_holds(self, reference: str) -> list[Hold]:
        """Release every level without charging; voiding again replays."""
        return self._retrying(lambda journal: ledger_holds.void(journal, reference))

    def void_hold(self, reference: str) -> Hold:
        return self.void_holds(reference)[0]

    def holds(self, reference: str) -> list[Hold]:
        with self._journal() as journal:
            return ledger_holds.current(journal, reference)

    def expire_holds(self, now: datetime, *, limit: int = 500) -> int:
        """Release open holds past their expiry; safe to run on every node at once."""
        with self._journal() as journal:
            return ledger_holds.expire(journal, now, limit)
