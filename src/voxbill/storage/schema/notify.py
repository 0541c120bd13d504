"""Notifications: subscriptions, one delivery per (outbox event, subscription), and
every attempt at sending one.

An outbox event is fanned out once (``outbox_events.delivered_at`` set: "fanned out")
into ``notify_deliveries``; ``(event_id, subscription_id)`` is unique, so a second
fan-out of the same event (two nodes) cannot make a second delivery. A delivery is
claimed by a worker with ``claim`` (a random token) until ``claimed_until`` (the lease);
a worker that dies mid-send leaves the lease to run out and another worker sends again.

``notify_subscriptions.secret`` is a webhook's HMAC key, stored as given: signing needs
the key itself, so it cannot be hashed the way API keys are (it is shown once, at
creation, and never answered again). A deleted subscription is kept (``deleted_at``) so
that its deliveries' history stays readable.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import UtcDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")

notify_subscriptions = Table(
    "notify_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", String(2000), nullable=False),
    Column("events", Text, nullable=False),  # JSON list of event types
    Column("subtree", Boolean, nullable=False),
    Column("secret", String(128), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime, nullable=True),
    CheckConstraint(
        "channel IN ('email', 'sms', 'webhook')", name="ck_notify_subscriptions_channel"
    ),
)
Index(
    "ix_notify_subscriptions_account",
    notify_subscriptions.c.account_id,
    notify_subscriptions.c.id,  # paged (0028)
)

notify_deliveries = Table(
    "notify_deliveries",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("event_id", _BigId, ForeignKey("outbox_events.id"), nullable=False),
    Column("subscription_id", Integer, ForeignKey("notify_subscriptions.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),  # subscriber
    Column("event_type", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("claim", String(32), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    UniqueConstraint("event_id", "subscription_id", name="uq_notify_deliveries_event_sub"),
    CheckConstraint(
        "status IN ('pending', 'failed', 'delivered', 'dead')", name="ck_notify_deliveries_status"
    ),
)
Index("ix_notify_deliveries_due", notify_deliveries.c.status, notify_deliveries.c.next_attempt_at)
Index("ix_notify_deliveries_account", notify_deliveries.c.account_id, notify_deliveries.c.id)

notify_attempts = Table(
    "notify_attempts",
    metadata,
    Column("id", _BigId, primary_key=True),
    Column("delivery_id", _BigId, ForeignKey("notify_deliveries.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", String(500), nullable=True),
    Column("worker", String(64), nullable=False),
)
Index("ix_notify_attempts_delivery", notify_attempts.c.delivery_id)

#: An operator's or reseller's own templates and sender (``domain.notify.NotifyTemplate``).
notify_templates = Table(
    "notify_templates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("subject", String(500), nullable=True),
    Column("body", Text, nullable=True),
    Column("sender_name", String(200), nullable=True),
    Column("sender_address", String(254), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "event_type", "channel", name="uq_notify_templates_key"),
)
