"""Who may call voxbill: API keys, caller identifiers (how a switch's caller is
recognised) and portal users."""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import UtcDateTime

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("prefix", String(24), nullable=False),  # shown in lists: "vbk_ab12cd34"
    Column("secret_hash", String(64), nullable=False, unique=True),  # sha256 hex of the key
    Column("label", String(200), nullable=True),
    Column("created_by", String(100), nullable=False),
    # the key that minted this one (None: the command line); revoking it revokes this one
    Column("created_by_key_id", Integer, ForeignKey("api_keys.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    CheckConstraint("role IN ('admin','reseller','customer','user','support')", name="role"),
)
Index("ix_api_keys_account", api_keys.c.account_id, api_keys.c.id)  # paged lists (0028)
Index("ix_api_keys_created_by_key_id", api_keys.c.created_by_key_id)

caller_identifiers = Table(
    "caller_identifiers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("operator_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("type", String(16), nullable=False),  # ani | sip_user | ip | card
    # E.164 digits, SIP user, network "10.0.0.0/24", or card number
    Column("value", String(128), nullable=False),
    Column("pin_hash", String(200), nullable=True),  # argon2id, cards only
    # IP networks as fixed-width hex bounds, so one indexed range scan finds the longest match
    Column("ip_version", Integer, nullable=True),
    Column("net_start", String(32), nullable=True),
    Column("net_end", String(32), nullable=True),
    Column("prefix_len", Integer, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("operator_id", "type", "value", name="uq_caller_identifiers_value"),
    CheckConstraint("type IN ('ani','sip_user','ip','card')", name="type"),
)
Index("ix_caller_identifiers_account", caller_identifiers.c.account_id, caller_identifiers.c.id)
# lookups without an operator (single-operator deployments) by value and by network
Index("ix_caller_identifiers_lookup", caller_identifiers.c.type, caller_identifiers.c.value)
Index(
    "ix_caller_identifiers_any_network",
    caller_identifiers.c.ip_version,
    caller_identifiers.c.net_start,
)
Index(
    "ix_caller_identifiers_network",
    caller_identifiers.c.operator_id,
    caller_identifiers.c.ip_version,
    caller_identifiers.c.net_start,
)

portal_users = Table(
    "portal_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("role", String(16), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("role IN ('admin','reseller','customer','user','support')", name="role"),
)
Index("ix_portal_users_account", portal_users.c.account_id, portal_users.c.id)

#: the portal's sign-ins (migration 0024); ``user_id`` NULL: a calling card (number + PIN)
portal_sessions = Table(
    "portal_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex of the cookie
    Column("user_id", Integer, ForeignKey("portal_users.id"), nullable=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("label", String(254), nullable=False),  # the email, or the card's last digits
    Column("csrf_secret", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    CheckConstraint("role IN ('admin','reseller','customer','user','support')", name="role"),
)
Index("ix_portal_sessions_expires", portal_sessions.c.expires_at)

#: password reset links the portal emailed (migration 0026): the sha256 of the token
#: (never stored in the clear), whose user, until when, and when it was used (once)
portal_password_resets = Table(
    "portal_password_resets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("portal_users.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
)
Index("ix_portal_password_resets_user", portal_password_resets.c.user_id)
