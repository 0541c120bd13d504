"""Routing: where each vendor (carrier) takes calls (its SIP target)."""

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, Table

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import UtcDateTime

sip_targets = Table(
    "sip_targets",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),  # a vendor
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("transport", String(3), nullable=False),
    Column("tech_prefix", String(20), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("transport IN ('udp','tcp')", name="transport"),
    CheckConstraint("port BETWEEN 1 AND 65535", name="port"),
)
