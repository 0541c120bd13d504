"""The accounts table, read and written by :class:`SqlAccountRepository`: rows in,
domain :class:`~voxbill.domain.accounts.Account` objects out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update

from voxbill.domain.accounts import (
    Account,
    AccountKind,
    AccountStatus,
    BalanceSettings,
    Billing,
    CutoffMode,
    Limits,
    Plans,
)
from voxbill.storage.prepared import Prepared
from voxbill.storage.schema import accounts, ledger_books, rate_plans


def from_row(row: Any) -> Account:
    """A row of the accounts table (selected here or elsewhere in storage) as an ``Account``."""
    return Account(
        id=row.id,
        parent_id=row.parent_id,
        path=row.path,
        depth=row.depth,
        kind=AccountKind(row.kind),
        name=row.name,
        status=AccountStatus(row.status),
        currency=row.currency,
        balance=BalanceSettings(
            billing=Billing(row.billing),
            credit_limit=row.credit_limit,
            alert_balance=row.alert_balance,
            block_balance=row.block_balance,
            shared_balance=bool(row.shared_balance),
            cutoff_mode=CutoffMode(row.cutoff_mode),
        ),
        limits=Limits(
            max_concurrent_calls=row.max_concurrent_calls,
            low_balance_concurrent_calls=row.low_balance_concurrent_calls,
            max_call_cost=row.max_call_cost,
            max_call_duration=row.max_call_duration,
            message_rate_limit=row.message_rate_limit,
            shared_balance_call_cap=row.shared_balance_call_cap,
            hourly_spend_cap=row.hourly_spend_cap,
            daily_spend_cap=row.daily_spend_cap,
            high_risk_allowed=bool(row.high_risk_allowed),
            high_risk_daily_cap=row.high_risk_daily_cap,
            topup_min=row.topup_min,
            topup_max=row.topup_max,
            topup_daily_max=row.topup_daily_max,
            topup_monthly_max=row.topup_monthly_max,
        ),
        plans=Plans(row.rate_plan, row.sms_plan),
        timezone=row.timezone,
        tax_profile=row.tax_profile,
        created_at=row.created_at,
        updated_at=row.updated_at,
        partner_id=row.partner_id,
    )


def columns_of(account: Account) -> dict[str, Any]:
    """Every stored column of an account except ``id``, ``path`` and ``depth``."""
    b, lim, plans = account.balance, account.limits, account.plans
    return {
        "parent_id": account.parent_id,
        "kind": account.kind.value,
        "name": account.name,
        "status": account.status.value,
        "currency": account.currency,
        "billing": b.billing.value,
        "credit_limit": b.credit_limit,
        "alert_balance": b.alert_balance,
        "block_balance": b.block_balance,
        "shared_balance": b.shared_balance,
        "cutoff_mode": b.cutoff_mode.value,
        "max_concurrent_calls": lim.max_concurrent_calls,
        "low_balance_concurrent_calls": lim.low_balance_concurrent_calls,
        "max_call_cost": lim.max_call_cost,
        "max_call_duration": lim.max_call_duration,
        "message_rate_limit": lim.message_rate_limit,
        "shared_balance_call_cap": lim.shared_balance_call_cap,
        "hourly_spend_cap": lim.hourly_spend_cap,
        "daily_spend_cap": lim.daily_spend_cap,
        "high_risk_allowed": lim.high_risk_allowed,
        "high_risk_daily_cap": lim.high_risk_daily_cap,
        "topup_min": lim.topup_min,
        "topup_max": lim.topup_max,
        "topup_daily_max": lim.topup_daily_max,
        "topup_monthly_max": lim.topup_monthly_max,
        "rate_plan": plans.rate_plan,
        "sms_plan": plans.sms_plan,
        "timezone": account.timezone,
        "tax_profile": account.tax_profile,
        "partner_id": account.partner_id,
    }


_ONE = select(accounts).where(accounts.c.id == bindparam("id"))
_BY_ID = {
    "": Prepared(_ONE),
    "update": Prepared(_ONE.with_for_update()),
    "share": Prepared(_ONE.with_for_update(read=True)),
}


#: a partner's vendor (``accounts.partner_id``) and its balance book's balance
_PARTNER_VENDOR = Prepared(
    select(accounts.c.id, ledger_books.c.balance)
    .select_from(
        accounts.outerjoin(
            ledger_books,
            (ledger_books.c.account_id == accounts.c.id) & (ledger_books.c.purpose == "balance"),
        )
    )
    .where(accounts.c.partner_id == bindparam("id"))
)


class SqlAccountRepository:
    """:class:`~voxbill.services.ports.accounts.AccountRepository` over one transaction's
    connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(
        self, account_id: int, *, for_update: bool = False, for_share: bool = False
    ) -> Account | None:
        """``for_share``: no move, status or settings change of the row commits until we
        do (row locks on PostgreSQL; SQLite's writers are serial anyway)."""
        lock = "update" if for_update else "share" if for_share else ""
        dialect = self._conn.dialect.name
        row = _BY_ID[lock if dialect == "postgresql" else ""].first(self._conn, {"id": account_id})
        return None if row is None else from_row(row)

    def insert_account(self, account: Account, parent_path: str | None) -> Account:
        """Insert and set the materialized path, which needs the new id."""
        now = datetime.now(UTC)
        values = columns_of(account) | {
            "path": "",
            "depth": 0,
            "created_at": now,
            "updated_at": now,
        }
        statement = insert(accounts).values(**values).returning(accounts.c.id)
        new_id = self._conn.execute(statement).scalar_one()
        path = f"{parent_path or '/'}{new_id}/"
        self._conn.execute(
            update(accounts)
            .where(accounts.c.id == new_id)
            .values(path=path, depth=path.count("/") - 2)
        )
        return self._stored(new_id)

    def save(self, account: Account) -> Account:
        values = columns_of(account) | {"updated_at": datetime.now(UTC)}
        self._conn.execute(update(accounts).where(accounts.c.id == account.id).values(**values))
        return self._stored(account.id)

    def _stored(self, account_id: int) -> Account:
        stored = self.get(account_id)
        assert stored is not None
        return stored

    def move_subtree(self, old_path: str, new_path: str) -> None:
        """Rewrite the paths of an account and all its descendants in one statement."""
        tail = func.substr(accounts.c.path, len(old_path) + 1)
        depth_change = new_path.count("/") - old_path.count("/")
        self._conn.execute(
            update(accounts)
            .where(accounts.c.path.like(f"{old_path}%"))
            .values(path=new_path + tail, depth=accounts.c.depth + depth_change)
        )

    def children(self, parent_id: int, *, after_id: int | None, limit: int) -> list[Account]:
        query = select(accounts).where(accounts.c.parent_id == parent_id)
        if after_id is not None:
            query = query.where(accounts.c.id > after_id)
        rows = self._conn.execute(query.order_by(accounts.c.id).limit(limit))
        return [from_row(row) for row in rows]

    def subtree(
        self, path: str, *, after_id: int | None, limit: int, name: str | None = None
    ) -> list[Account]:
        query = select(accounts).where(accounts.c.path.like(f"{path}%"))
        if name:  # a search by name (the portal): case-insensitive, anywhere in it
            escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(accounts.c.name.ilike(f"%{escaped}%", escape="\\"))
        if after_id is not None:
            query = query.where(accounts.c.id > after_id)
        rows = self._conn.execute(query.order_by(accounts.c.id).limit(limit))
        return [from_row(row) for row in rows]

    def find_operator(self, name: str) -> Account | None:
        row = self._conn.execute(
            select(accounts)
            .where(accounts.c.kind == AccountKind.OPERATOR.value, accounts.c.name == name)
            .order_by(accounts.c.id)
            .limit(1)
        ).first()
        return None if row is None else from_row(row)

    def operator_ids(self) -> list[int]:
        """Every operator root's id, in creation order."""
        query = select(accounts.c.id).where(accounts.c.kind == AccountKind.OPERATOR.value)
        return [int(v) for v in self._conn.execute(query.order_by(accounts.c.id)).scalars()]

    def priced_by(self, operator_id: int, plan: str) -> list[tuple[int, str]]:
        """(id, path) of the operator's accounts rated by ``plan`` (voice or SMS), by id."""
        query = (
            select(accounts.c.id, accounts.c.path)
            .where(
                accounts.c.path.like(f"/{operator_id}/%"),
                or_(accounts.c.rate_plan == plan, accounts.c.sms_plan == plan),
            )
            .order_by(accounts.c.id)
        )
        return [(row.id, row.path) for row in self._conn.execute(query)]

    def plans_used_in(self, path: str) -> set[str]:
        """Names of the rate plans any account of a subtree is rated by (plans of the
        subtree's operator: an account names its plans within its own operator)."""
        names: set[str] = set()
        for column in (accounts.c.rate_plan, accounts.c.sms_plan):
            query = select(column).where(accounts.c.path.like(f"{path}%"), column.is_not(None))
            names.update(self._conn.execute(query.distinct()).scalars())
        return names

    def partner_vendor(self, account_id: int) -> tuple[int, Decimal] | None:
        """The vendor linked to ``account_id`` as its outbound side and that vendor's
        ledger balance (0 before its first movement), in one prepared query; None: no
        link."""
        row = _PARTNER_VENDOR.first(self._conn, {"id": account_id})
        if row is None:
            return None
        return int(row.id), Decimal(0) if row.balance is None else row.balance

    def plan_currency(self, operator_id: int, name: str) -> str | None:
        """The currency of the operator's plan of that name (None: the operator has none)."""
        query = select(rate_plans.c.currency).where(
            rate_plans.c.operator_id == operator_id, rate_plans.c.name == name
        )
        value = self._conn.execute(query).scalar()
        return None if value is None else str(value)


# -- for other storage modules composing an account read into their own statements -----


def get(
    conn: Connection, account_id: int, *, for_update: bool = False, for_share: bool = False
) -> Account | None:
    return SqlAccountRepository(conn).get(account_id, for_update=for_update, for_share=for_share)
