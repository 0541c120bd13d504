"""Subscriptions, the outbox's fan-out and the delivery queue in the database.

Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several nodes' workers share
the queue without waiting on one another; SQLite has one writer (the clause is left out
by its dialect). Event types are JSON text here; services see domain objects only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from voxbill.domain.ledger import OutboxEvent
from voxbill.domain.notify import (
    Attempt,
    Channel,
    Delivery,
    DeliveryJob,
    DeliveryStatus,
    Event,
    NewSubscription,
    NotifyTemplate,
    Subscription,
)
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.ledger import outbox_events
from voxbill.storage.schema.notify import (
    notify_attempts,
    notify_deliveries,
    notify_subscriptions,
    notify_templates,
)

_subs = notify_subscriptions
_dlv = notify_deliveries
_ERROR_CHARS = 500

_SUBSCRIPTION_COLUMNS = (*_subs.c, accounts.c.path)


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=int(row.id),
        account_id=int(row.account_id),
        account_path=row.path,
        channel=Channel(row.channel),
        target=row.target,
        events=tuple(json.loads(row.events)),
        subtree=bool(row.subtree),
        secret=row.secret,
        created_at=row.created_at,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=int(row.id),
        event_id=int(row.event_id),
        type=row.event_type,
        account_id=int(row.account_id),
        event_account_id=row.event_account_id,
        subscription_id=int(row.subscription_id),
        channel=Channel(row.channel),
        target=row.target,
        status=DeliveryStatus(row.status),
        attempts=int(row.attempts),
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def _template(row: Any) -> NotifyTemplate:
    return NotifyTemplate(
        account_id=int(row.account_id),
        event_type=row.event_type,
        channel=Channel(row.channel),
        subject=row.subject,
        body=row.body,
        sender_name=row.sender_name,
        sender_address=row.sender_address,
        updated_at=row.updated_at,
    )


_tpl = notify_templates

_DELIVERY_QUERY = select(
    *_dlv.c,
    _subs.c.channel,
    _subs.c.target,
    outbox_events.c.account_id.label("event_account_id"),
).select_from(
    _dlv.join(_subs, _subs.c.id == _dlv.c.subscription_id).join(
        outbox_events, outbox_events.c.id == _dlv.c.event_id
    )
)


class SqlNotifyRepository:
    """The notifications context over one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- subscriptions -------------------------------------------------------------------

    def add_subscription(self, new: NewSubscription) -> Subscription:
        subscription_id = self._conn.execute(
            insert(_subs)
            .values(
                account_id=new.account_id,
                channel=new.channel.value,
                target=new.target,
                events=json.dumps(list(new.events)),
                subtree=new.subtree,
                secret=new.secret,
                created_at=new.created_at,
            )
            .returning(_subs.c.id)
        ).scalar_one()
        found = self.subscription(int(subscription_id))
        assert found is not None
        return found

    def _subscriptions(self) -> Any:
        return (
            select(*_SUBSCRIPTION_COLUMNS)
            .select_from(_subs.join(accounts, accounts.c.id == _subs.c.account_id))
            .where(_subs.c.deleted_at.is_(None))
        )

    def subscription(self, subscription_id: int) -> Subscription | None:
        row = self._conn.execute(self._subscriptions().where(_subs.c.id == subscription_id)).first()
        return None if row is None else _subscription(row)

    def subscriptions(
        self, account_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[Subscription]:
        query = self._subscriptions().where(_subs.c.account_id == account_id)
        if after_id is not None:
            query = query.where(_subs.c.id > after_id)
        query = query.order_by(_subs.c.id)
        if limit is not None:
            query = query.limit(limit)
        return [_subscription(row) for row in self._conn.execute(query)]

    def delete_subscription(self, subscription_id: int, now: datetime) -> None:
        self._conn.execute(
            update(_subs).where(_subs.c.id == subscription_id).values(deleted_at=now)
        )
        self._conn.execute(
            update(_dlv)
            .where(
                _dlv.c.subscription_id == subscription_id,
                _dlv.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value]),
            )
            .values(status=DeliveryStatus.DEAD.value, last_error="subscription deleted")
        )

    # -- fan-out -------------------------------------------------------------------------

    def unfanned_events(self, limit: int) -> list[OutboxEvent]:
        query = (
            select(outbox_events)
            .where(outbox_events.c.delivered_at.is_(None))
            .order_by(outbox_events.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [OutboxEvent(*row) for row in self._conn.execute(query)]

    def subscribers(self, account_id: int, at: datetime) -> list[Subscription]:
        path = self._conn.execute(
            select(accounts.c.path).where(accounts.c.id == account_id)
        ).scalar_one_or_none()
        if path is None:
            return []
        ancestors = [int(part) for part in path.strip("/").split("/")[:-1]]
        query = self._subscriptions().where(
            _subs.c.created_at <= at,
            or_(
                _subs.c.account_id == account_id,
                and_(_subs.c.account_id.in_(ancestors), _subs.c.subtree.is_(True)),
            ),
        )
        return [_subscription(row) for row in self._conn.execute(query.order_by(_subs.c.id))]

    def add_deliveries(
        self,
        event: OutboxEvent,
        event_type: str,
        subscriptions: Sequence[Subscription],
        now: datetime,
    ) -> int:
        rows = [
            {
                "event_id": event.id,
                "subscription_id": s.id,
                "account_id": s.account_id,
                "event_type": event_type,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for s in subscriptions
        ]
        if rows:
            self._conn.execute(insert(_dlv), rows)
        return len(rows)

    def mark_fanned_out(self, event_ids: Sequence[int], now: datetime) -> None:
        if event_ids:
            self._conn.execute(
                update(outbox_events)
                .where(outbox_events.c.id.in_(list(event_ids)))
                .values(delivered_at=now)
            )

    # -- the delivery queue ----------------------------------------------------------------

    def claim_due(
        self, *, now: datetime, lease_until: datetime, claim: str, limit: int
    ) -> list[DeliveryJob]:
        due = (
            select(_dlv.c.id)
            .where(
                _dlv.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value]),
                _dlv.c.next_attempt_at <= now,
                or_(_dlv.c.claimed_until.is_(None), _dlv.c.claimed_until < now),
            )
            .order_by(_dlv.c.next_attempt_at, _dlv.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [int(i) for i in self._conn.execute(due).scalars()]
        if not ids:
            return []
        self._conn.execute(
            update(_dlv).where(_dlv.c.id.in_(ids)).values(claim=claim, claimed_until=lease_until)
        )
        query = (
            select(
                _dlv.c.id.label("delivery_id"),
                _dlv.c.attempts,
                _dlv.c.event_type,
                outbox_events.c.id.label("event_id"),
                outbox_events.c.account_id.label("event_account_id"),
                outbox_events.c.payload,
                outbox_events.c.created_at.label("event_created_at"),
                *_SUBSCRIPTION_COLUMNS,
            )
            .select_from(
                _dlv.join(outbox_events, outbox_events.c.id == _dlv.c.event_id)
                .join(_subs, _subs.c.id == _dlv.c.subscription_id)
                .join(accounts, accounts.c.id == _subs.c.account_id)
            )
            .where(_dlv.c.id.in_(ids))
            .order_by(_dlv.c.next_attempt_at, _dlv.c.id)
        )
        jobs = []
        for row in self._conn.execute(query):
            data = json.loads(row.payload)
            event = Event(
                id=int(row.event_id),
                type=row.event_type,
                account_id=row.event_account_id,
                created_at=row.event_created_at,
                data=data if isinstance(data, dict) else {"value": data},
            )
            jobs.append(
                DeliveryJob(
                    int(row.delivery_id), claim, int(row.attempts), event, _subscription(row)
                )
            )
        return jobs

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
        error = None if error is None else error[:_ERROR_CHARS]
        self._conn.execute(
            insert(notify_attempts).values(
                delivery_id=job.delivery_id,
                number=job.attempts + 1,
                at=now,
                ok=status is DeliveryStatus.DELIVERED,
                error=error,
                worker=worker[:64],
            )
        )
        values: dict[str, Any] = {
            "status": status.value,
            "attempts": _dlv.c.attempts + 1,
            "claim": None,
            "claimed_until": None,
            "next_attempt_at": next_attempt_at,
        }
        condition = [_dlv.c.id == job.delivery_id, _dlv.c.status != DeliveryStatus.DELIVERED.value]
        if status is DeliveryStatus.DELIVERED:
            # a success counts even after the lease ran out: it was sent
            values |= {"delivered_at": now, "last_error": None}
        else:
            values["last_error"] = error
            condition.append(_dlv.c.claim == job.claim)
        result = self._conn.execute(update(_dlv).where(*condition).values(values))
        return bool(result.rowcount)

    def retry_delivery(self, delivery_id: int, now: datetime) -> bool:
        live = (
            select(_subs.c.id)
            .where(_subs.c.id == _dlv.c.subscription_id, _subs.c.deleted_at.is_(None))
            .exists()
        )
        result = self._conn.execute(
            update(_dlv)
            .where(_dlv.c.id == delivery_id, _dlv.c.status == DeliveryStatus.DEAD.value, live)
            .values(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=now,
                claim=None,
                claimed_until=None,
            )
        )
        return bool(result.rowcount)

    # -- reading ---------------------------------------------------------------------------

    def deliveries(self, account_id: int, *, limit: int, before_id: int | None) -> list[Delivery]:
        query = _DELIVERY_QUERY.where(_dlv.c.account_id == account_id)
        if before_id is not None:
            query = query.where(_dlv.c.id < before_id)
        query = query.order_by(_dlv.c.id.desc()).limit(limit)
        return [_delivery(row) for row in self._conn.execute(query)]

    def failed_under(self, path: str) -> dict[str, int]:
        """Deliveries of the subtree's subscriptions that failed: ``failed`` (a retry
        is due) and ``dead`` (given up), counted (``ix_notify_deliveries_due``)."""
        query = (
            select(_dlv.c.status, func.count())
            .select_from(notify_deliveries.join(accounts, accounts.c.id == _dlv.c.account_id))
            .where(
                _dlv.c.status.in_(("failed", "dead")),
                accounts.c.path.startswith(path, autoescape=True),
            )
            .group_by(_dlv.c.status)
        )
        found = {"failed": 0, "dead": 0}
        found.update({str(r[0]): int(r[1]) for r in self._conn.execute(query)})
        return found

    def delivery(self, delivery_id: int) -> Delivery | None:
        row = self._conn.execute(_DELIVERY_QUERY.where(_dlv.c.id == delivery_id)).first()
        return None if row is None else _delivery(row)

    def attempts(self, delivery_id: int) -> list[Attempt]:
        query = (
            select(notify_attempts)
            .where(notify_attempts.c.delivery_id == delivery_id)
            .order_by(notify_attempts.c.id)
        )
        return [
            Attempt(
                delivery_id=int(r.delivery_id),
                number=int(r.number),
                at=r.at,
                ok=bool(r.ok),
                error=r.error,
                worker=r.worker,
            )
            for r in self._conn.execute(query)
        ]

    # -- templates -------------------------------------------------------------------------

    def templates_on(self, account_ids: Sequence[int], channel: str) -> list[NotifyTemplate]:
        query = select(_tpl).where(
            _tpl.c.account_id.in_(list(account_ids)), _tpl.c.channel == channel
        )
        return [_template(row) for row in self._conn.execute(query)]

    def template(self, account_id: int, event_type: str, channel: str) -> NotifyTemplate | None:
        row = self._conn.execute(
            select(_tpl).where(
                _tpl.c.account_id == account_id,
                _tpl.c.event_type == event_type,
                _tpl.c.channel == channel,
            )
        ).first()
        return None if row is None else _template(row)

    def put_template(self, template: NotifyTemplate) -> None:
        values = {
            "subject": template.subject,
            "body": template.body,
            "sender_name": template.sender_name,
            "sender_address": template.sender_address,
            "updated_at": template.updated_at,
        }
        self.delete_template(template.account_id, template.event_type, template.channel.value)
        self._conn.execute(
            insert(_tpl).values(
                account_id=template.account_id,
                event_type=template.event_type,
                channel=template.channel.value,
                **values,
            )
        )

    def delete_template(self, account_id: int, event_type: str, channel: str) -> bool:
        result = self._conn.execute(
            delete(_tpl).where(
                _tpl.c.account_id == account_id,
                _tpl.c.event_type == event_type,
                _tpl.c.channel == channel,
            )
        )
        return bool(result.rowcount)

    def account_templates(self, account_id: int) -> list[NotifyTemplate]:
        query = (
            select(_tpl)
            .where(_tpl.c.account_id == account_id)
            .order_by(_tpl.c.event_type, _tpl.c.channel)
        )
        return [_template(row) for row in self._conn.execute(query)]
