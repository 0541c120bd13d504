"""Table definitions (SQLAlchemy Core), one module per part of the domain."""

from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.auth import (
    api_keys,
    caller_identifiers,
    portal_password_resets,
    portal_sessions,
    portal_users,
)
from voxbill.storage.schema.base import metadata
from voxbill.storage.schema.card_pins import card_pin_counters, pin_asker_counters
from voxbill.storage.schema.cards import card_batches, cards
from voxbill.storage.schema.charging import (
    call_counters,
    cdr_legs,
    cdrs,
    charging_sessions,
    dashboard_minutes,
    dashboard_rollup_marks,
)
from voxbill.storage.schema.fraud import high_risk_prefixes, spend_counters, velocity_minutes
from voxbill.storage.schema.ledger import (
    fx_rates,
    holds,
    idempotency_keys,
    ledger_books,
    ledger_entries,
    ledger_transactions,
    outbox_events,
)
from voxbill.storage.schema.messaging import message_records
from voxbill.storage.schema.notify import (
    notify_attempts,
    notify_deliveries,
    notify_subscriptions,
    notify_templates,
)
from voxbill.storage.schema.payments import auto_recharges, payments
from voxbill.storage.schema.rating import rate_changes, rate_imports, rate_plans, rates
from voxbill.storage.schema.routing import sip_targets

__all__ = [
    "accounts",
    "api_keys",
    "auto_recharges",
    "call_counters",
    "caller_identifiers",
    "card_batches",
    "card_pin_counters",
    "cards",
    "cdr_legs",
    "cdrs",
    "charging_sessions",
    "dashboard_minutes",
    "dashboard_rollup_marks",
    "fx_rates",
    "high_risk_prefixes",
    "holds",
    "idempotency_keys",
    "ledger_books",
    "ledger_entries",
    "ledger_transactions",
    "message_records",
    "metadata",
    "notify_attempts",
    "notify_deliveries",
    "notify_subscriptions",
    "notify_templates",
    "outbox_events",
    "payments",
    "pin_asker_counters",
    "portal_password_resets",
    "portal_sessions",
    "portal_users",
    "rate_changes",
    "rate_imports",
    "rate_plans",
    "rates",
    "sip_targets",
    "spend_counters",
    "velocity_minutes",
]
