"""The access context's tables: API keys, caller identifiers and portal users, read and
written by :class:`SqlAccessRepository` (rows in, domain records out).

The key check (:meth:`SqlAccessRepository.key_by_hash`) reads the key, its account's
path and its chain's worst status in one statement, and a caller lookup is one indexed
read: both are on every call's path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from voxbill.domain.access import (
    ApiKeyRecord,
    KeyOwner,
    PasswordReset,
    PortalSession,
    PortalUser,
    Role,
)
from voxbill.domain.accounts import AccountStatus
from voxbill.domain.card_pins import CardOnFile
from voxbill.domain.errors import Conflict
from voxbill.domain.identifiers import (
    CallerIdentifier,
    CallerNetwork,
    IdentifiedCaller,
    IdentifierType,
    NewIdentifier,
)
from voxbill.storage.schema import (
    accounts,
    api_keys,
    caller_identifiers,
    cards,
    portal_password_resets,
    portal_sessions,
    portal_users,
)

#: the chain's statuses, worst last: the worst one found is the chain's
_SEVERITY = (
    AccountStatus.ACTIVE,
    AccountStatus.BLOCKED,
    AccountStatus.SUSPENDED,
    AccountStatus.CLOSED,
)


def _page(
    query: Select[Any], id_column: ColumnElement[int], after_id: int | None, limit: int | None
) -> Select[Any]:
    """One page of an account's rows in id order (keyset: ``id > after_id``, at most
    ``limit``; the whole list when no limit). The ``(account_id)`` index holds each
    account's rows in id order (SQLite: rowid; PostgreSQL: a short range scan, sorted)."""
    if after_id is not None:
        query = query.where(id_column > after_id)
    query = query.order_by(id_column)
    return query if limit is None else query.limit(limit)


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


def _identifier(row: Any) -> CallerIdentifier:
    return CallerIdentifier(
        row.id, row.account_id, IdentifierType(row.type), row.value, row.created_at
    )


def _caller(row: Any) -> IdentifiedCaller:
    return IdentifiedCaller(row.account_id, row.id, IdentifierType(row.type), row.path)


def _portal_user(row: Any) -> PortalUser:
    return PortalUser(
        row.id,
        row.account_id,
        row.email,
        row.password_hash,
        Role(row.role),
        bool(row.disabled),
        row.created_at,
    )


def _with_path() -> Select[Any]:
    """Identifier rows with their account's path (for the trunk and tenancy rules)."""
    return select(caller_identifiers, accounts.c.path).join(
        accounts, accounts.c.id == caller_identifiers.c.account_id
    )


class SqlAccessRepository:
    """:class:`~voxbill.services.ports.access.AccessRepository` over one transaction's
    connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- API keys ----------------------------------------------------------------------

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
        row = self._conn.execute(
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

    def key_by_hash(self, secret_hash: str) -> KeyOwner | None:
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
        row = self._conn.execute(
            select(api_keys, accounts.c.path, worst.label("worst"))
            .join(accounts, accounts.c.id == api_keys.c.account_id)
            .where(api_keys.c.secret_hash == secret_hash, api_keys.c.revoked_at.is_(None))
        ).first()
        if row is None:
            return None
        return KeyOwner(_key(row), row.path, _SEVERITY[row.worst])

    def key_by_id(self, key_id: int) -> tuple[ApiKeyRecord, str] | None:
        """The key and its account's path."""
        row = self._conn.execute(
            select(api_keys, accounts.c.path)
            .join(accounts, accounts.c.id == api_keys.c.account_id)
            .where(api_keys.c.id == key_id)
        ).first()
        return None if row is None else (_key(row), row.path)

    def keys_of(
        self, account_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[ApiKeyRecord]:
        query = select(api_keys).where(api_keys.c.account_id == account_id)
        query = _page(query, api_keys.c.id, after_id, limit)
        return [_key(row) for row in self._conn.execute(query)]

    def lock_live_key(self, key_id: int) -> bool:
        """True if the key is unrevoked, and then locked ``FOR SHARE`` until the
        transaction ends (PostgreSQL; SQLite's writers are serial anyway): a concurrent
        revocation waits for this transaction, and this one never sees a key that is
        being revoked as live."""
        row = self._conn.execute(
            select(api_keys.c.id)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .with_for_update(read=True)
        ).first()
        return row is not None

    def revoke_key(self, key_id: int) -> int:
        """Revoke the key and every key minted from it, down the whole line (a recursive
        CTE over ``created_by_key_id``); the number of keys revoked now.

        Repeated until a pass revokes nothing: on PostgreSQL a pass waits for the
        transactions minting with a key of the line (:meth:`lock_live_key`) and cannot
        see what they minted, so the next pass takes it; a later mint with a revoked key
        waits for this transaction and then finds its key revoked. One pass suffices on
        SQLite."""
        at = datetime.now(UTC)
        total = 0
        while revoked := self._revoke_line_once(key_id, at):
            total += revoked
        return total

    def _revoke_line_once(self, key_id: int, at: datetime) -> int:
        line = select(api_keys.c.id).where(api_keys.c.id == key_id).cte("minted", recursive=True)
        child = api_keys.alias("child")
        line = line.union(select(child.c.id).join(line, child.c.created_by_key_id == line.c.id))
        revoked = self._conn.execute(
            update(api_keys)
            .where(api_keys.c.id.in_(select(line.c.id)), api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(api_keys.c.id)  # counted from the rows: sqlite3 has no rowcount after WITH
        )
        return len(revoked.all())

    # -- caller identifiers ------------------------------------------------------------

    def insert_identifier(self, identifier: NewIdentifier) -> CallerIdentifier:
        """Insert; a concurrent claim of the same value becomes a ``Conflict``."""
        values: dict[str, Any] = {
            "operator_id": identifier.operator_id,
            "account_id": identifier.account_id,
            "type": identifier.type.value,
            "value": identifier.value,
            "pin_hash": identifier.pin_hash,
            "created_at": datetime.now(UTC),
        }
        if identifier.network is not None:
            net = identifier.network
            values |= {
                "ip_version": net.version,
                "net_start": net.start,
                "net_end": net.end,
                "prefix_len": net.prefix_len,
            }
        statement = insert(caller_identifiers).values(**values).returning(*caller_identifiers.c)
        try:
            with self._conn.begin_nested():
                return _identifier(self._conn.execute(statement).one())
        except IntegrityError:
            raise Conflict(
                f"{identifier.type} {identifier.value} already identifies a caller"
            ) from None

    def identifier_exists(self, operator_id: int, type_: IdentifierType, value: str) -> bool:
        c = caller_identifiers.c
        row = self._conn.execute(
            select(c.id).where(
                c.operator_id == operator_id, c.type == type_.value, c.value == value
            )
        ).first()
        return row is not None

    def _holding(self, type_: IdentifierType, value: str, operator_id: int | None) -> list[Any]:
        c = caller_identifiers.c
        query = _with_path().where(c.type == type_.value, c.value == value)
        if operator_id is not None:
            query = query.where(c.operator_id == operator_id)
        return list(self._conn.execute(query.limit(2)))

    def find_identifiers(
        self, type_: IdentifierType, value: str, operator_id: int | None
    ) -> list[IdentifiedCaller]:
        """The callers a value identifies: within ``operator_id`` (at most one), or,
        without one, under any operator (two: ambiguous)."""
        return [_caller(row) for row in self._holding(type_, value, operator_id)]

    def find_cards(self, number: str, operator_id: int | None) -> list[CardOnFile]:
        """:meth:`find_identifiers` for a card number, with the PIN's hash and, for a
        batch card, its state and expiry (the same one indexed read)."""
        c = caller_identifiers.c
        query = (
            select(caller_identifiers, accounts.c.path, cards.c.state, cards.c.expires_at)
            .join(accounts, accounts.c.id == c.account_id)
            .outerjoin(cards, cards.c.account_id == c.account_id)
            .where(c.type == IdentifierType.CARD.value, c.value == number)
        )
        if operator_id is not None:
            query = query.where(c.operator_id == operator_id)
        return [
            CardOnFile(
                row.id, row.account_id, row.value, row.pin_hash, row.path, row.state, row.expires_at
            )
            for row in self._conn.execute(query.limit(2))
        ]

    def find_network(
        self, version: int, address: str, operator_id: int | None, *, min_prefix: int
    ) -> list[CallerNetwork]:
        """The networks containing ``address`` (fixed-width hex), longest prefix first; none
        wider than ``min_prefix`` (a catch-all stored before such networks were refused)."""
        c = caller_identifiers.c
        query = _with_path().where(
            c.type == IdentifierType.IP.value,
            c.ip_version == version,
            c.net_start <= address,
            c.net_end >= address,
            c.prefix_len >= min_prefix,
        )
        if operator_id is not None:
            query = query.where(c.operator_id == operator_id)
        rows = self._conn.execute(query.order_by(c.prefix_len.desc(), c.id).limit(2))
        return [CallerNetwork(_caller(row), row.prefix_len) for row in rows]

    def identifier_by_id(self, identifier_id: int) -> CallerIdentifier | None:
        query = select(caller_identifiers).where(caller_identifiers.c.id == identifier_id)
        row = self._conn.execute(query).first()
        return None if row is None else _identifier(row)

    def delete_identifier(self, identifier_id: int) -> None:
        self._conn.execute(
            delete(caller_identifiers).where(caller_identifiers.c.id == identifier_id)
        )

    def identifiers_of(
        self, account_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[CallerIdentifier]:
        query = select(caller_identifiers).where(caller_identifiers.c.account_id == account_id)
        query = _page(query, caller_identifiers.c.id, after_id, limit)
        return [_identifier(row) for row in self._conn.execute(query)]

    # -- portal users ------------------------------------------------------------------

    def insert_portal_user(
        self, *, account_id: int, email: str, password_hash: str, role: Role
    ) -> int:
        return int(
            self._conn.execute(
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

    def portal_user_by_email(self, email: str) -> PortalUser | None:
        query = select(portal_users).where(portal_users.c.email == email)
        row = self._conn.execute(query).first()
        return None if row is None else _portal_user(row)

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self._conn.execute(
            update(portal_users)
            .where(portal_users.c.id == user_id)
            .values(password_hash=password_hash)
        )

    def portal_user(self, user_id: int) -> PortalUser | None:
        row = self._conn.execute(select(portal_users).where(portal_users.c.id == user_id)).first()
        return None if row is None else _portal_user(row)

    def portal_users_of(
        self, account_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[PortalUser]:
        query = select(portal_users).where(portal_users.c.account_id == account_id)
        query = _page(query, portal_users.c.id, after_id, limit)
        return [_portal_user(row) for row in self._conn.execute(query)]

    def delete_sessions_of(self, user_id: int) -> None:
        self._conn.execute(delete(portal_sessions).where(portal_sessions.c.user_id == user_id))

    # -- portal sessions ---------------------------------------------------------------

    def insert_session(
        self,
        *,
        token_hash: str,
        user_id: int | None,
        account_id: int,
        role: Role,
        label: str,
        csrf_secret: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        self._conn.execute(
            insert(portal_sessions).values(
                token_hash=token_hash,
                user_id=user_id,
                account_id=account_id,
                role=role.value,
                label=label[:254],
                csrf_secret=csrf_secret,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
            )
        )

    def session_by_hash(self, token_hash: str) -> PortalSession | None:
        """The session with this token hash, its account's path and its chain's worst
        status (one statement, as :meth:`key_by_hash`); None also when its user is
        disabled."""
        owner = (
            select(portal_sessions.c.account_id)
            .where(portal_sessions.c.token_hash == token_hash)
            .scalar_subquery()
        )
        start = select(accounts.c.id, accounts.c.parent_id, accounts.c.status)
        chain = start.where(accounts.c.id == owner).cte("session_chain", recursive=True)
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
        row = self._conn.execute(
            select(portal_sessions, accounts.c.path, worst.label("worst"), portal_users.c.disabled)
            .join(accounts, accounts.c.id == portal_sessions.c.account_id)
            .outerjoin(portal_users, portal_users.c.id == portal_sessions.c.user_id)
            .where(portal_sessions.c.token_hash == token_hash)
        ).first()
        if row is None or bool(row.disabled):
            return None
        return PortalSession(
            id=row.id,
            user_id=row.user_id,
            account_id=row.account_id,
            path=row.path,
            role=Role(row.role),
            label=row.label,
            csrf_secret=row.csrf_secret,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            status=_SEVERITY[row.worst],
        )

    def touch_session(self, session_id: int, now: datetime) -> None:
        self._conn.execute(
            update(portal_sessions)
            .where(portal_sessions.c.id == session_id)
            .values(last_seen_at=now)
        )

    def delete_session(self, session_id: int) -> None:
        self._conn.execute(delete(portal_sessions).where(portal_sessions.c.id == session_id))

    def delete_expired_sessions(self, now: datetime) -> int:
        result = self._conn.execute(
            delete(portal_sessions).where(portal_sessions.c.expires_at <= now)
        )
        return int(result.rowcount or 0)

    # -- password reset links ----------------------------------------------------------

    def insert_password_reset(
        self, *, token_hash: str, user_id: int, now: datetime, expires_at: datetime
    ) -> None:
        r = portal_password_resets.c
        self._conn.execute(
            delete(portal_password_resets).where(
                r.user_id == user_id, (r.used_at.is_not(None)) | (r.expires_at <= now)
            )
        )
        self._conn.execute(
            insert(portal_password_resets).values(
                token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at
            )
        )

    def password_reset_by_hash(
        self, token_hash: str, *, for_update: bool = False
    ) -> PasswordReset | None:
        query = select(portal_password_resets).where(
            portal_password_resets.c.token_hash == token_hash
        )
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            return None
        return PasswordReset(row.id, row.user_id, row.created_at, row.expires_at, row.used_at)

    def use_password_resets_of(self, user_id: int, now: datetime) -> None:
        r = portal_password_resets.c
        self._conn.execute(
            update(portal_password_resets)
            .where(r.user_id == user_id, r.used_at.is_(None))
            .values(used_at=now)
        )
