"""notify: subscriptions, deliveries and their attempts

Revision ID: 0022
Revises: 0021

``notify_subscriptions`` (an account's channel, target, event types, whether its
subtree's events are included, a webhook's HMAC secret), ``notify_deliveries`` (one per
outbox event and subscription, unique on the pair; status, attempts, next attempt, the
worker's claim and lease), ``notify_attempts`` (every attempt) and ``notify_templates``
(an operator's or reseller's own wording and sender per event type and channel). The outbox's
``delivered_at`` now means "fanned out": events written before this revision are marked
so (no subscription existed to want them), so nothing old is sent after the upgrade.

Downgrade drops the four tables (the outbox keeps its events).
"""

import sqlalchemy as sa
from alembic import op

from voxbill.storage.types import UtcDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notify_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("subtree", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "channel IN ('email', 'sms', 'webhook')", name="ck_notify_subscriptions_channel"
        ),
    )
    op.create_index("ix_notify_subscriptions_account", "notify_subscriptions", ["account_id"])
    op.create_table(
        "notify_deliveries",
        sa.Column("id", _BigId, primary_key=True),
        sa.Column("event_id", _BigId, sa.ForeignKey("outbox_events.id"), nullable=False),
        sa.Column(
            "subscription_id",
            sa.Integer(),
            sa.ForeignKey("notify_subscriptions.id"),
            nullable=False,
        ),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("claim", sa.String(32), nullable=True),
        sa.Column("claimed_until", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("event_id", "subscription_id", name="uq_notify_deliveries_event_sub"),
        sa.CheckConstraint(
            "status IN ('pending', 'failed', 'delivered', 'dead')",
            name="ck_notify_deliveries_status",
        ),
    )
    op.create_index("ix_notify_deliveries_due", "notify_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_notify_deliveries_account", "notify_deliveries", ["account_id", "id"])
    op.create_table(
        "notify_attempts",
        sa.Column("id", _BigId, primary_key=True),
        sa.Column("delivery_id", _BigId, sa.ForeignKey("notify_deliveries.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("worker", sa.String(64), nullable=False),
    )
    op.create_index("ix_notify_attempts_delivery", "notify_attempts", ["delivery_id"])
    op.create_table(
        "notify_templates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(500), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("sender_name", sa.String(200), nullable=True),
        sa.Column("sender_address", sa.String(254), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("account_id", "event_type", "channel", name="uq_notify_templates_key"),
    )
    op.execute("UPDATE outbox_events SET delivered_at = created_at WHERE delivered_at IS NULL")


def downgrade() -> None:
    op.drop_table("notify_templates")
    op.drop_index("ix_notify_attempts_delivery", table_name="notify_attempts")
    op.drop_table("notify_attempts")
    op.drop_index("ix_notify_deliveries_account", table_name="notify_deliveries")
    op.drop_index("ix_notify_deliveries_due", table_name="notify_deliveries")
    op.drop_table("notify_deliveries")
    op.drop_index("ix_notify_subscriptions_account", table_name="notify_subscriptions")
    op.drop_table("notify_subscriptions")
