"""Table definitions (SQLAlchemy Core), one module per part of the domain."""

from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.base import metadata
from voxbill.storage.schema.rating import rate_changes, rate_imports, rate_plans, rates

__all__ = ["accounts", "metadata", "rate_changes", "rate_imports", "rate_plans", "rates"]
