"""What ``authorize`` reads: the account chain from a short-lived cache, the balances and
open-call counts fresh, in one query each.

Authorize reserves nothing, so it may decide on account settings (status, limits,
plans) up to ``hot_cache_seconds`` old; ``start`` re-reads and locks everything in its
own transaction, which is where money is decided. Balances are never cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from voxbill.domain import charging as rules
from voxbill.domain.accounts import Account
from voxbill.domain.charging_decision import Sources
from voxbill.domain.ledger import Funds
from voxbill.services.caching import TtlCache
from voxbill.services.charging import partners
from voxbill.services.unit_of_work import Transaction, UnitOfWork


class ChainCache:
    """Account chains (caller first, root last) by caller account id, for the TTL."""

    def __init__(self, uow: UnitOfWork, ttl: float) -> None:
        self._uow = uow
        self._chains: TtlCache[int, list[Account]] = TtlCache(ttl)

    def chain(self, account_id: int) -> list[Account]:
        def load() -> list[Account]:
            with self._uow.transaction(readonly=True) as tx:
                return tx.sessions.chain(account_id)

        return self._chains.get(account_id, load)

    def ancestors(self, account_id: int) -> list[int]:
        """The cached chain's ancestor ids (root first), a hint for a fresh read; or []."""
        cached = self._chains.peek(account_id)
        return cached[0].ancestor_ids if cached else []

    def remember(self, account_id: int, chain: list[Account]) -> None:
        """A chain just read fresh (by ``start``), for the authorizations that follow."""
        self._chains.put(account_id, chain)

    def clear(self) -> None:
        self._chains.clear()


def fresh_sources(tx: Transaction, chain: Sequence[Account]) -> Sources:
    """Unlocked reads for ``authorize``: every balance of the chain in one query, on first
    use; a balance is identified by its owning account (as ``book_of`` answers)."""
    owners = rules.balance_owners(chain)
    states: dict[int, tuple[Decimal, Decimal]] = {}

    def load() -> None:
        ids = {o.id for o in owners.values()}
        states.update(dict.fromkeys(ids, (Decimal(0), Decimal(0))))
        states.update(tx.sessions.balances(ids))

    def book_of(account: Account) -> int:
        return owners[account.id].id

    def funds_of_book(balance_account_id: int) -> Funds:
        if not states:
            load()
        balance, reserved = states[balance_account_id]
        settings = next(o for o in owners.values() if o.id == balance_account_id).balance
        return Funds(
            balance=balance,
            reserved=reserved,
            billing=settings.billing.value,
            credit_limit=settings.credit_limit,
            block_balance=settings.block_balance,
            alert_balance=settings.alert_balance,
        )

    return Sources(book_of, funds_of_book, tx.sessions.open_calls, partners.outbound_of(tx))
