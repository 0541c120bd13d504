"""Vendors' SIP targets and the vendor snapshot least-cost routing reads, in the database
(:class:`SqlRouteRepository` over the module functions)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from voxbill.domain.accounts import Account, AccountKind, CutoffMode
from voxbill.domain.ledger import Funds, account_book_key
from voxbill.domain.routing import SipTarget, Transport, Vendor
from voxbill.storage.accounts import repository as account_repository
from voxbill.storage.ledger import books
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.ledger import ledger_books
from voxbill.storage.schema.routing import sip_targets


def _target(row: Any) -> SipTarget:
    return SipTarget(row.host, row.port, Transport(row.transport), row.tech_prefix)


def target(conn: Connection, account_id: int) -> SipTarget | None:
    row = conn.execute(select(sip_targets).where(sip_targets.c.account_id == account_id)).first()
    return None if row is None else _target(row)


def save_target(conn: Connection, account_id: int, found: SipTarget, now: datetime) -> None:
    values = {
        "host": found.host,
        "port": found.port,
        "transport": found.transport.value,
        "tech_prefix": found.tech_prefix,
        "updated_at": now,
    }
    changed = conn.execute(
        update(sip_targets).where(sip_targets.c.account_id == account_id).values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(sip_targets).values(account_id=account_id, **values))


def delete_target(conn: Connection, account_id: int) -> bool:
    query = delete(sip_targets).where(sip_targets.c.account_id == account_id)
    return bool(conn.execute(query).rowcount)


def chain(conn: Connection, account_id: int) -> list[Account]:
    """The account and its ancestors, caller first and the root last ([] if unknown)."""
    first = account_repository.get(conn, account_id)
    if first is None:
        return []
    ids = first.ancestor_ids
    rows = conn.execute(select(accounts).where(accounts.c.id.in_(ids))).all() if ids else []
    by_id = {row.id: account_repository.from_row(row) for row in rows}
    return [first, *(by_id[i] for i in reversed(ids) if i in by_id)]


def _funds(conn: Connection, account_id: int) -> Funds:
    owner = books.balance_owner(conn, account_id)
    book = books.find_book(conn, books.account_book_key(owner.balance_account_id))
    return Funds(
        balance=Decimal(0) if book is None else book.balance,
        reserved=Decimal(0) if book is None else book.reserved,
        billing=owner.billing,
        credit_limit=owner.credit_limit,
        block_balance=owner.block_balance,
    )


def vendors(conn: Connection, operator_id: int) -> list[Vendor]:
    """The operator's vendor accounts that have a SIP target, with their own funds and
    their partner's cutoff mode (linked vendors)."""
    partner = accounts.alias("partner")
    query = (
        select(
            accounts,
            *[c.label(f"t_{c.name}") for c in sip_targets.c],
            partner.c.cutoff_mode.label("p_cutoff_mode"),
        )
        .join(sip_targets, sip_targets.c.account_id == accounts.c.id)
        .outerjoin(partner, partner.c.id == accounts.c.partner_id)
        .where(accounts.c.kind == AccountKind.VENDOR.value)
        .where(accounts.c.parent_id == operator_id)
        .order_by(accounts.c.id)
    )
    found = []
    for row in conn.execute(query):
        account = account_repository.from_row(row)
        where = SipTarget(row.t_host, row.t_port, Transport(row.t_transport), row.t_tech_prefix)
        mode = None if row.p_cutoff_mode is None else CutoffMode(row.p_cutoff_mode)
        found.append(Vendor(account, where, _funds(conn, account.id), mode))
    return found


def vendor_page(
    conn: Connection, operator_id: int, *, after_id: int | None, limit: int
) -> list[tuple[Account, SipTarget | None, Decimal]]:
    """The operator's vendor accounts (its children: vendors hang off the root) by id,
    each with its SIP target when it has one and its ledger balance (a vendor keeps its
    own: 0 before its first movement), in two queries."""
    query = (
        select(accounts, *[c.label(f"t_{c.name}") for c in sip_targets.c])
        .outerjoin(sip_targets, sip_targets.c.account_id == accounts.c.id)
        .where(accounts.c.parent_id == operator_id)
        .where(accounts.c.kind == AccountKind.VENDOR.value)
    )
    if after_id is not None:
        query = query.where(accounts.c.id > after_id)
    rows = conn.execute(query.order_by(accounts.c.id).limit(limit)).all()
    keys = [account_book_key(row.id) for row in rows]
    found = (
        conn.execute(
            select(ledger_books.c.key, ledger_books.c.balance).where(ledger_books.c.key.in_(keys))
        ).all()
        if keys
        else []
    )
    balances = {key: Decimal(balance) for key, balance in found}
    page: list[tuple[Account, SipTarget | None, Decimal]] = []
    for row in rows:
        where = None
        if row.t_host is not None:
            where = SipTarget(row.t_host, row.t_port, Transport(row.t_transport), row.t_tech_prefix)
        balance = balances.get(account_book_key(row.id), Decimal(0))
        page.append((account_repository.from_row(row), where, balance))
    return page


class SqlRouteRepository:
    """The routing context's repository over one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def target(self, account_id: int) -> SipTarget | None:
        return target(self._conn, account_id)

    def save_target(self, account_id: int, found: SipTarget, now: datetime) -> None:
        return save_target(self._conn, account_id, found, now)

    def delete_target(self, account_id: int) -> bool:
        return delete_target(self._conn, account_id)

    def chain(self, account_id: int) -> list[Account]:
        return chain(self._conn, account_id)

    def vendors(self, operator_id: int) -> list[Vendor]:
        return vendors(self._conn, operator_id)

    def vendor_page(
        self, operator_id: int, *, after_id: int | None, limit: int
    ) -> list[tuple[Account, SipTarget | None, Decimal]]:
        return vendor_page(self._conn, operator_id, after_id=after_id, limit=limit)
