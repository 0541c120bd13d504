"""API keys (shown once, stored as a sha256 hash) and portal passwords (argon2id).

A key is ``vbk_<8 hex>_<43 random url-safe chars>``: the short prefix is stored in the
clear so people can tell keys apart; 256 bits of randomness make a fast hash the right
one (argon2 is for low-entropy secrets such as passwords and PINs).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from voxbill.domain import access
from voxbill.domain.access import (
    ROLE_KINDS,
    ApiKeyRecord,
    KeyOwner,
    PortalUser,
    Principal,
    Role,
)
from voxbill.domain.accounts import AccountStatus
from voxbill.domain.errors import Conflict, InvalidInput, NotFound, Unauthorized
from voxbill.services.caching import TtlCache
from voxbill.services.unit_of_work import UnitOfWork

KEY_SCHEME = "vbk"
_PASSWORDS = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults


def hash_password(password: str) -> str:
    """A portal password's argon2id hash (a password needs at least 10 characters)."""
    if len(password) < 10:
        raise InvalidInput("a password needs at least 10 characters")
    return _PASSWORDS.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user is unknown (same work, no timing leak);
    made on first use, not at import, so that every CLI start doesn't pay for it."""
    return _PASSWORDS.hash("not a password")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its visible prefix."""
    prefix = f"{KEY_SCHEME}_{secrets.token_hex(4)}"
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


@dataclass(frozen=True, slots=True)
class IssuedKey:
    record: ApiKeyRecord
    secret: str  # the only time the key is ever seen


class AuthService:
    """API keys: checked (from a per-process cache, or afresh from the database for a
    write), issued, listed and revoked.

    What a revocation or an account's status change reaches, and when: the node that
    made it forgets its cache at once; another node's cache lets a key it holds keep
    reading and driving calls for at most ``hot_cache_seconds``, while every other write
    is checked afresh (``authenticate(fresh=True)``, see :mod:`voxbill.api.guard`), and
    a key is minted only by a key that its own transaction finds unrevoked."""

    def __init__(self, uow: UnitOfWork, *, cache_seconds: float = 0.0) -> None:
        self._uow = uow
        #: key hash -> its owner, so that a busy switch does not pay a query per request;
        #: a revocation on another node (or an account closed) takes effect within the TTL
        self._keys: TtlCache[str, KeyOwner | None] = TtlCache(cache_seconds)

    def forget_all(self) -> None:
        self._keys.clear()

    def _owner(self, digest: str) -> KeyOwner | None:
        with self._uow.transaction(readonly=True) as tx:
            return tx.access.key_by_hash(digest)

    def authenticate(self, token: str | None, *, fresh: bool = False) -> Principal:
        """The principal of ``token``: from the cache, or (``fresh``) from the database,
        which refreshes the cache. A key that is unknown, revoked, or under a closed
        account (its own or any above it) is :class:`Unauthorized`; under a blocked or
        suspended one it is a read-only principal (``status``)."""
        if not token or not token.startswith(f"{KEY_SCHEME}_") or len(token) > 200:
            raise Unauthorized("a valid API key is required (Authorization: Bearer <key>)")
        digest = hash_key(token)
        if fresh:
            owner = self._owner(digest)
            self._keys.put(digest, owner)
        else:
            owner = self._keys.get(digest, lambda: self._owner(digest))
        if owner is None or owner.status is AccountStatus.CLOSED:
            raise Unauthorized("the API key is unknown or revoked")
        key = owner.key
        return Principal(key.account_id, owner.path, key.role, key.id, owner.status)

    def issue(
        self, principal: Principal, account_id: int, role: Role, label: str | None = None
    ) -> IssuedKey:
        with self._uow.transaction() as tx:
            if principal.key_id is not None and not tx.access.lock_live_key(principal.key_id):
                # revoked since the request's check: a revoked key mints nothing
                raise Unauthorized("the API key is unknown or revoked")
            account = access.require_visible(principal, tx.accounts.get(account_id))
            access.check_issue_key(principal, account, role)
            if account.kind not in ROLE_KINDS[role]:
                raise InvalidInput(
                    f"a {role} key cannot be bound to an account of kind {account.kind}"
                )
            if account.status is AccountStatus.CLOSED:
                raise Conflict(f"account {account.id} is closed: a key for it would be dead")
            secret, prefix = new_key()
            record = tx.access.insert_key(
                account_id=account.id,
                role=role,
                prefix=prefix,
                secret_hash=hash_key(secret),
                label=label,
                created_by=principal.actor,
                created_by_key_id=principal.key_id,
            )
        return IssuedKey(record, secret)

    def issue_system(self, account_id: int, role: Role, label: str | None = None) -> IssuedKey:
        """For the command line, which runs with the operator's own authority."""
        with self._uow.transaction(readonly=True) as tx:
            account = tx.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        root = Principal(account.operator_id, f"/{account.operator_id}/", Role.ADMIN)
        return self.issue(root, account_id, role, label)

    def keys(
        self,
        principal: Principal,
        account_id: int,
        *,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[ApiKeyRecord]:
        """The account's keys in id order (a page: those after ``after_id``, at most
        ``limit``; every one when no limit)."""
        with self._uow.transaction(readonly=True) as tx:
            access.require_visible(principal, tx.accounts.get(account_id))
            return tx.access.keys_of(account_id, after_id=after_id, limit=limit)

    def revoke(self, principal: Principal, key_id: int) -> ApiKeyRecord:
        """Revoke the key and every key minted from it, down the line (idempotent)."""
        with self._uow.transaction() as tx:
            found = tx.access.key_by_id(key_id)
            if found is None or not found[1].startswith(principal.path):
                raise NotFound("API key not found")
            access.check_revoke(principal)
            tx.access.revoke_key(key_id)
            again = tx.access.key_by_id(key_id)
            assert again is not None
        self._keys.clear()  # at once on this node; other nodes within their TTL
        return again[0]

    # -- portal users ------------------------------------------------------------------

    def create_portal_user(
        self, principal: Principal, account_id: int, email: str, password: str, role: Role
    ) -> int:
        address = email.strip().lower()
        if "@" not in address or len(address) > 254:
            raise InvalidInput("a valid email address is required")
        if len(password) < 10:
            raise InvalidInput("a password needs at least 10 characters")
        with self._uow.transaction() as tx:
            account = access.require_visible(principal, tx.accounts.get(account_id))
            access.check_issue_key(principal, account, role)
            if account.kind not in ROLE_KINDS[role]:
                raise InvalidInput(
                    f"a {role} user cannot belong to an account of kind {account.kind}"
                )
            if tx.access.portal_user_by_email(address) is not None:
                raise Conflict("a portal user with this email exists")
            return tx.access.insert_portal_user(
                account_id=account.id,
                email=address,
                password_hash=_PASSWORDS.hash(password),
                role=role,
            )

    def create_portal_user_system(
        self, account_id: int, email: str, password: str, role: Role
    ) -> int:
        """For the command line, which runs with the operator's own authority."""
        with self._uow.transaction(readonly=True) as tx:
            account = tx.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        root = Principal(account.operator_id, f"/{account.operator_id}/", Role.ADMIN)
        return self.create_portal_user(root, account_id, email, password, role)

    def portal_users(
        self,
        principal: Principal,
        account_id: int,
        *,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[PortalUser]:
        """The account's portal users in id order, paged as :meth:`keys`."""
        with self._uow.transaction(readonly=True) as tx:
            access.require_visible(principal, tx.accounts.get(account_id))
            return tx.access.portal_users_of(account_id, after_id=after_id, limit=limit)

    def portal_users_system(
        self, account_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[PortalUser]:
        """For the command line, which runs with the operator's own authority."""
        with self._uow.transaction(readonly=True) as tx:
            account = tx.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        root = Principal(account.operator_id, f"/{account.operator_id}/", Role.ADMIN)
        return self.portal_users(root, account_id, after_id=after_id, limit=limit)

    def reset_portal_password(self, principal: Principal, user_id: int, password: str) -> None:
        """A parent sets a portal user's new password (the rules of issuing a key of the
        user's role on its account); the user's sessions end."""
        if len(password) < 10:
            raise InvalidInput("a password needs at least 10 characters")
        with self._uow.transaction() as tx:
            user = tx.access.portal_user(user_id)
            found = None if user is None else tx.accounts.get(user.account_id)
            account = access.require_visible(principal, found, "portal user")
            assert user is not None  # an account was found for it
            access.check_issue_key(principal, account, user.role)
            tx.access.set_password_hash(user.id, _PASSWORDS.hash(password))
            tx.access.delete_sessions_of(user.id)

    def reset_portal_password_system(self, email: str, password: str) -> bool:
        """For the command line (``voxbill demo``): a new password for an existing portal
        user; False when there is no such user."""
        with self._uow.transaction() as tx:
            user = tx.access.portal_user_by_email(email.strip().lower())
            if user is None:
                return False
            tx.access.set_password_hash(user.id, _PASSWORDS.hash(password))
        return True

    def login(self, email: str, password: str) -> Principal:
        """The principal of a portal user; same error and similar time for every failure."""
        return self.portal_login(email, password)[0]

    def portal_login(self, email: str, password: str) -> tuple[Principal, int]:
        """The principal of a portal user and the user's id, as :meth:`login`."""
        with self._uow.transaction(readonly=True) as tx:
            user = tx.access.portal_user_by_email(email.strip().lower())
            account = None if user is None else tx.accounts.get(user.account_id)
        try:
            _PASSWORDS.verify(user.password_hash if user else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            raise Unauthorized("wrong email or password") from None
        if not user or user.disabled or account is None or account.status is AccountStatus.CLOSED:
            raise Unauthorized("wrong email or password")
        if _PASSWORDS.check_needs_rehash(user.password_hash):
            with self._uow.transaction() as tx:
                tx.access.set_password_hash(user.id, _PASSWORDS.hash(password))
        return Principal(account.id, account.path, user.role, status=account.status), user.id
