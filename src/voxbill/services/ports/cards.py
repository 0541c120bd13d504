"""What the cards context needs from storage: batches and their cards.

Protocols only: ``voxbill.storage`` implements them and ``bootstrap`` wires them
(through the unit of work, :mod:`voxbill.services.unit_of_work`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from voxbill.domain.cards import BatchCounts, BatchKey, BatchUse, Card, CardBatch, Funding


class CardRepository(Protocol):
    def next_sequence(self, operator_id: int) -> int:
        """The operator's next free serial sequence (a concurrent twin taking it too
        fails on the unique key at commit: retry)."""
        ...

    def insert_batch(
        self,
        *,
        operator_id: int,
        owner_id: int,
        name: str,
        size: int,
        face_value: Decimal,
        currency: str,
        rate_plan: str | None,
        expires_at: datetime | None,
        valid_days: int | None,
        pin_length: int,
        funding: Funding,
        first_sequence: int,
        created_at: datetime,
        created_by: str,
        key: BatchKey | None = None,
    ) -> CardBatch:
        """``key``: the Idempotency-Key asked with, unique per (operator, scope, key): a
        twin inserted first makes this one fail at commit (WriteConflict)."""
        ...

    def insert_cards(self, batch: CardBatch, rows: list[tuple[int, int]]) -> None:
        """``rows``: (account id, sequence) of each new card, all ``inactive``."""
        ...

    def batch(self, batch_id: int, *, for_update: bool = False) -> CardBatch | None: ...
    def batch_by_key(self, operator_id: int, scope: str, key: str) -> tuple[CardBatch, str] | None:
        """The batch generated with this key, and the digest of the request it answered."""
        ...

    def use_of(self, batch_id: int) -> BatchUse:
        """Whether any card of the batch was activated, funded, holds money or called."""
        ...

    def delete_batch(self, batch_id: int) -> None:
        """Remove the batch, its cards and their accounts, identifiers and empty books."""
        ...

    def batches_under(self, path: str, *, after_id: int | None, limit: int) -> list[CardBatch]:
        """Batches whose owner is ``path`` or below it, by id."""
        ...

    def cards_of(
        self, batch_id: int, *, first: int | None = None, last: int | None = None
    ) -> list[Card]:
        """The batch's cards by sequence, within [first, last] when given."""
        ...

    def card(self, account_id: int) -> Card | None: ...
    def set_state(
        self,
        account_ids: list[int],
        *,
        state: str,
        activated_at: datetime | None = None,
        expires_at: datetime | None = None,
        funding_transaction_id: int | None = None,
    ) -> None:
        """Change these cards' state; the other values, when given, are set too."""
        ...

    def counts(self, batch_id: int, face_value: Decimal, now: datetime) -> BatchCounts: ...
