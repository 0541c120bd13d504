"""API keys, caller identifiers and portal users in the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from voxbill.domain.access import ApiKeyRecord, KeyOwner, Role
from voxbill.domain.accounts import AccountStatus
from voxbill.domain.errors import Conflict
from voxbill.storage.schema import accounts, api_keys, caller_identifiers, portal_users


def _key(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        row.id,
        row.account_id,
        Role(row.role),
        row.prefix,
        row.label,
        row.created_at,
        row.revoked_at,
    )


def insert_key(
    conn: Connection,
    *,
    account_id: int,
    role: Role,
    prefix: str,
    secret_hash: str,
    label: str | None,
    created_by: str,
    created_by_key_id: int | None = None,
) -> ApiKeyRecord:
    row = conn.execute(
        insert(api_keys)
        .values(
            account_id=account_id,
            role=role.value,
            prefix=prefix,
            secret_hash=secret_hash,
            label=label,
            created_by=created_by,
            created_by_key_id=created_by_key_id,
            created_at=datetime.now(UTC),
        )
        .returning(*api_keys.c)
    ).one()
    return _key(row)


#: the chain's statuses, worst last: the worst one found is the chain's
_SEVERITY = (
    AccountStatus.ACTIVE,
    AccountStatus.BLOCKED,
    AccountStatus.SUSPENDED,
    AccountStatus.CLOSED,
)


def key_by_hash(conn: Connection, secret_hash: str) -> KeyOwner | None:
    """The unrevoked key with this hash, its account's path and its chain's status.

    The chain is walked up ``parent_id`` by a recursive CTE (primary-key lookups, as
    many as the account is deep) inside the key's own statement: one round trip."""
    owner = (
        select(api_keys.c.account_id)
        .where(api_keys.c.secret_hash == secret_hash, api_keys.c.revoked_at.is_(None))
        .scalar_subquery()
    )
    start = select(accounts.c.id, accounts.c.parent_id, accounts.c.status)
    chain = start.where(accounts.c.id == owner).cte("key_chain", recursive=True)
    parent = accounts.alias("parent")
    chain = chain.union_all(
        select(parent.c.id, parent.c.parent_id, parent.c.status).join(
            chain, parent.c.id == chain.c.parent_id
        )
    )
    severity = case(
        {status.value: rank for rank, status in enumerate(_SEVERITY)}, value=chain.c.status
    )
    worst = select(func.max(severity)).scalar_subquery()
    row = conn.execute(
        select(api_keys, accounts.c.path, worst.label("worst"))
        .join(accounts, accounts.c.id == api_keys.c.account_id)
        .where(api_keys.c.secret_hash == secret_hash, api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return KeyOwner(_key(row), row.path, _SEVERITY[row.worst])


def key_by_id(conn: Connection, key_id: int) -> tuple[ApiKeyRecord, str] | None:
    row = conn.execute(
        select(api_keys, accounts.c.path)
        .join(accounts, accounts.c.id == api_keys.c.account_id)
        .where(api_keys.c.id == key_id)
    ).first()
    return None if row is None else (_key(row), row.path)


def keys_of(conn: Connection, account_id: int) -> list[ApiKeyRecord]:
    rows = conn.execute(
        select(api_keys).where(api_keys.c.account_id == account_id).order_by(api_keys.c.id)
    )
    return [_key(row) for row in rows]


def lock_live_key(conn: Connection, key_id: int) -> bool:
    """True if the key is unrevoked, and then locked ``FOR SHARE`` until the transaction
    ends (PostgreSQL; SQLite's writers are serial anyway): a concurrent revocation waits
    for this transaction, and this one never sees a key that is being revoked as live."""
    row = conn.execute(
        select(api_keys.c.id)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .with_for_update(read=True)
    ).first()
    return row is not None


def _revoke_line_once(conn: Connection, key_id: int, at: datetime) -> int:
    line = select(api_keys.c.id).where(api_keys.c.id == key_id).cte("minted", recursive=True)
    child = api_keys.alias("child")
    line = line.union(select(child.c.id).join(line, child.c.created_by_key_id == line.c.id))
    revoked = conn.execute(
        update(api_keys)
        .where(api_keys.c.id.in_(select(line.c.id)), api_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
        .returning(api_keys.c.id)  # counted from the rows: sqlite3 has no rowcount after WITH
    )
    return len(revoked.all())


def revoke_key(conn: Connection, key_id: int) -> int:
    """Revoke the key and every key minted from it, down the whole line (a recursive CTE
    over ``created_by_key_id``); the number of keys revoked now.

    Repeated until a pass revokes nothing: on PostgreSQL a pass waits for the
    transactions minting with a key of the line (:func:`lock_live_key`) and cannot see
    what they minted, so the next pass takes it; a later mint with a revoked key waits
    for this transaction and then finds its key revoked. One pass suffices on SQLite."""
    at = datetime.now(UTC)
    total = 0
    while revoked := _revoke_line_once(conn, key_id, at):
        total += revoked
    return total


def insert_identifier(conn: Connection, values: dict[str, Any]) -> int:
    """Insert; a concurrent claim of the same value becomes a ``Conflict``."""
    values = values | {"created_at": datetime.now(UTC)}
    statement = insert(caller_identifiers).values(**values).returning(caller_identifiers.c.id)
    try:
        with conn.begin_nested():
            return int(conn.execute(statement).scalar_one())
    except IntegrityError:
        raise Conflict(f"{values['type']} {values['value']} already identifies a caller") from None


def identifier_exists(conn: Connection, operator_id: int, type_: str, value: str) -> bool:
    row = conn.execute(
        select(caller_identifiers.c.id).where(
            caller_identifiers.c.operator_id == operator_id,
            caller_identifiers.c.type == type_,
            caller_identifiers.c.value == value,
        )
    ).first()
    return row is not None


def _with_path() -> Select[Any]:
    """Identifier rows with their account's path (for the trunk and tenancy rules)."""
    return select(caller_identifiers, accounts.c.path).join(
        accounts, accounts.c.id == caller_identifiers.c.account_id
    )


def find_identifiers(
    conn: Connection, type_: str, value: str, operator_id: int | None
) -> list[Any]:
    """The rows holding a value: within ``operator_id`` (at most one), or, without one,
    under any operator (two: ambiguous)."""
    c = caller_identifiers.c
    query = _with_path().where(c.type == type_, c.value == value)
    if operator_id is not None:
        query = query.where(c.operator_id == operator_id)
    return list(conn.execute(query.limit(2)))


def find_network(
    conn: Connection, version: int, address: str, operator_id: int | None, *, min_prefix: int
) -> list[Any]:
    """The networks containing ``address`` (fixed-width hex), longest prefix first; none
    wider than ``min_prefix`` (a catch-all stored before such networks were refused)."""
    c = caller_identifiers.c
    query = _with_path().where(
        c.type == "ip",
        c.ip_version == version,
        c.net_start <= address,
        c.net_end >= address,
        c.prefix_len >= min_prefix,
    )
    if operator_id is not None:
        query = query.where(c.operator_id == operator_id)
    return list(conn.execute(query.order_by(c.prefix_len.desc(), c.id).limit(2)))


def identifier_by_id(conn: Connection, identifier_id: int) -> Any:
    """The identifier with its account's path, or None."""
    return conn.execute(_with_path().where(caller_identifiers.c.id == identifier_id)).first()


def delete_identifier(conn: Connection, identifier_id: int) -> None:
    conn.execute(delete(caller_identifiers).where(caller_identifiers.c.id == identifier_id))


def identifiers_of(conn: Connection, account_id: int) -> list[Any]:
    query = select(caller_identifiers).where(caller_identifiers.c.account_id == account_id)
    return list(conn.execute(query.order_by(caller_identifiers.c.id)))


def insert_portal_user(
    conn: Connection, *, account_id: int, email: str, password_hash: str, role: Role
) -> int:
    return int(
        conn.execute(
            insert(portal_users)
            .values(
                account_id=account_id,
                email=email,
                password_hash=password_hash,
                role=role.value,
                created_at=datetime.now(UTC),
            )
            .returning(portal_users.c.id)
        ).scalar_one()
    )


def portal_user_by_email(conn: Connection, email: str) -> Any:
    return conn.execute(select(portal_users).where(portal_users.c.email == email)).first()


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(
        update(portal_users).where(portal_users.c.id == user_id).values(password_hash=password_hash)
    )


class SqlAccessRepository:
    """AccessRepository over one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert_key(
        self,
        *,
        account_id: int,
        role: Role,
        prefix: str,
        secret_hash: str,
        label: str | None,
        created_by: str,
        created_by_key_id: int | None = None,
    ) -> ApiKeyRecord:
        return insert_key(
            self._conn,
            account_id=account_id,
            role=role,
            prefix=prefix,
            secret_hash=secret_hash,
            label=label,
            created_by=created_by,
            created_by_key_id=created_by_key_id,
        )

    def key_by_hash(self, secret_hash: str) -> KeyOwner | None:
        return key_by_hash(self._conn, secret_hash)

    def key_by_id(self, key_id: int) -> tuple[ApiKeyRecord, str] | None:
        return key_by_id(self._conn, key_id)

    def keys_of(self, account_id: int) -> list[ApiKeyRecord]:
        return keys_of(self._conn, account_id)

    def lock_live_key(self, key_id: int) -> bool:
        return lock_live_key(self._conn, key_id)

    def revoke_key(self, key_id: int) -> int:
        return revoke_key(self._conn, key_id)

    def insert_identifier(self, values: dict[str, Any]) -> int:
        return insert_identifier(self._conn, values)

    def identifier_exists(self, operator_id: int, type_: str, value: str) -> bool:
        return identifier_exists(self._conn, operator_id, type_, value)

    def find_identifiers(self, type_: str, value: str, operator_id: int | None) -> list[Any]:
        return find_identifiers(self._conn, type_, value, operator_id)

    def find_network(
        self, version: int, address: str, operator_id: int | None, *, min_prefix: int
    ) -> list[Any]:
        return find_network(self._conn, version, address, operator_id, min_prefix=min_prefix)

    def identifier_by_id(self, identifier_id: int) -> Any:
        return identifier_by_id(self._conn, identifier_id)

    def delete_identifier(self, identifier_id: int) -> None:
        return delete_identifier(self._conn, identifier_id)

    def identifiers_of(self, account_id: int) -> list[Any]:
        return identifiers_of(self._conn, account_id)

    def insert_portal_user(
        self, *, account_id: int, email: str, password_hash: str, role: Role
    ) -> int:
        return insert_portal_user(
            self._conn, account_id=account_id, email=email, password_hash=password_hash, role=role
        )

    def portal_user_by_email(self, email: str) -> Any:
        return portal_user_by_email(self._conn, email)

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        return set_password_hash(self._conn, user_id, password_hash)
