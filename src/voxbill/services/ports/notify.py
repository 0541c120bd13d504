"""The notifications context's repository: subscriptions, the outbox's fan-out, the
deliveries workers claim and the attempts they record."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from voxbill.domain.ledger import OutboxEvent
from voxbill.domain.notify import (
    Attempt,
    Delivery,
    DeliveryJob,
    DeliveryStatus,
    NewSubscription,
    NotifyTemplate,
    Subscription,
)


class NotifyRepository(Protocol):
    def add_subscription(self, new: NewSubscription) -> Subscription: ...
    def subscription(self, subscription_id: int) -> Subscription | None:
        """A subscription not deleted."""
        ...

    def subscriptions(
        self, account_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[Subscription]:
        """The account's live ones in id order: after ``after_id``, at most ``limit``."""
        ...

    def delete_subscription(self, subscription_id: int, now: datetime) -> None:
        """Deleted (kept for history); its deliveries not yet sent become ``dead``."""
        ...

    def unfanned_events(self, limit: int) -> list[OutboxEvent]:
        """Outbox events not yet fanned out, oldest first, locked (PostgreSQL: rows
        another node holds are skipped)."""
        ...

    def subscribers(self, account_id: int, at: datetime) -> list[Subscription]:
        """Subscriptions made by ``at`` of the account and of its ancestors that take
        their subtree's events."""
        ...

    def add_deliveries(
        self,
        event: OutboxEvent,
        event_type: str,
        subscriptions: Sequence[Subscription],
        now: datetime,
    ) -> int: ...
    def mark_fanned_out(self, event_ids: Sequence[int], now: datetime) -> None: ...
    def claim_due(
        self, *, now: datetime, lease_until: datetime, claim: str, limit: int
    ) -> list[DeliveryJob]:
        """Due deliveries not under another worker's lease, claimed until ``lease_until``."""
        ...

    def record_attempt(
        self,
        job: DeliveryJob,
        *,
        now: datetime,
        worker: str,
        error: str | None,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> bool:
        """The attempt's row, always; the delivery's new state when it is not delivered
        already and (for a failure) the claim is still the worker's. True when applied."""
        ...

    def deliveries(
        self, account_id: int, *, limit: int, before_id: int | None
    ) -> list[Delivery]: ...
    def failed_under(self, path: str) -> dict[str, int]:
        """How many of the subtree's deliveries are ``failed`` and ``dead``."""
        ...

    def delivery(self, delivery_id: int) -> Delivery | None: ...
    def attempts(self, delivery_id: int) -> list[Attempt]: ...
    def retry_delivery(self, delivery_id: int, now: datetime) -> bool:
        """A dead delivery whose subscription is not deleted made due again at ``now``
        (False: it is not dead, or its subscription was deleted)."""
        ...

    def templates_on(self, account_ids: Sequence[int], channel: str) -> list[NotifyTemplate]:
        """Templates set on any of ``account_ids`` for ``channel``."""
        ...

    def template(self, account_id: int, event_type: str, channel: str) -> NotifyTemplate | None: ...
    def put_template(self, template: NotifyTemplate) -> None:
        """Insert or replace the account's template for (event type, channel)."""
        ...

    def delete_template(self, account_id: int, event_type: str, channel: str) -> bool: ...
    def account_templates(self, account_id: int) -> list[NotifyTemplate]: ...
