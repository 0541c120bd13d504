"""What the access context needs from storage: API keys, caller identifiers, portal users
and card PIN counters.

Protocols only: ``voxbill.storage`` implements them and ``bootstrap`` wires them
(through the unit of work, :mod:`voxbill.services.unit_of_work`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from voxbill.domain.access import (
    ApiKeyRecord,
    KeyOwner,
    PasswordReset,
    PortalSession,
    PortalUser,
    Role,
)
from voxbill.domain.card_pins import AskerCounter, CardCounter, CardOnFile
from voxbill.domain.identifiers import (
    CallerIdentifier,
    CallerNetwork,
    IdentifiedCaller,
    IdentifierType,
    NewIdentifier,
)


class AccessRepository(Protocol):
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
    ) -> ApiKeyRecord: ...
    def key_by_hash(self, secret_hash: str) -> KeyOwner | None: ...
    def key_by_id(self, key_id: int) -> tuple[ApiKeyRecord, str] | None:
        """The key and its account's path."""
        ...

    def keys_of(
        self, account_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[ApiKeyRecord]:
        """The account's, in id order: those after ``after_id``, at most ``limit``."""
        ...

    def lock_live_key(self, key_id: int) -> bool: ...
    def revoke_key(self, key_id: int) -> int: ...
    def insert_identifier(self, identifier: NewIdentifier) -> CallerIdentifier:
        """Raises ``Conflict`` when the operator already has the value."""
        ...

    def identifier_exists(self, operator_id: int, type_: IdentifierType, value: str) -> bool: ...
    def find_identifiers(
        self, type_: IdentifierType, value: str, operator_id: int | None
    ) -> list[IdentifiedCaller]:
        """At most two: more than one (no operator given) is ambiguous."""
        ...

    def find_cards(self, number: str, operator_id: int | None) -> list[CardOnFile]:
        """At most two, as :meth:`find_identifiers`."""
        ...

    def find_network(
        self, version: int, address: str, operator_id: int | None, *, min_prefix: int
    ) -> list[CallerNetwork]:
        """At most two, longest prefix first."""
        ...

    def identifier_by_id(self, identifier_id: int) -> CallerIdentifier | None: ...
    def delete_identifier(self, identifier_id: int) -> None: ...
    def identifiers_of(
        self, account_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[CallerIdentifier]:
        """The account's, in id order: those after ``after_id``, at most ``limit``."""
        ...

    def insert_portal_user(
        self, *, account_id: int, email: str, password_hash: str, role: Role
    ) -> int: ...
    def portal_user_by_email(self, email: str) -> PortalUser | None: ...
    def set_password_hash(self, user_id: int, password_hash: str) -> None: ...
    def portal_user(self, user_id: int) -> PortalUser | None: ...
    def portal_users_of(
        self, account_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[PortalUser]:
        """The account's, in id order: those after ``after_id``, at most ``limit``."""
        ...

    def delete_sessions_of(self, user_id: int) -> None: ...
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
    ) -> None: ...
    def session_by_hash(self, token_hash: str) -> PortalSession | None: ...
    def touch_session(self, session_id: int, now: datetime) -> None: ...
    def delete_session(self, session_id: int) -> None: ...
    def delete_expired_sessions(self, now: datetime) -> int: ...
    def insert_password_reset(
        self, *, token_hash: str, user_id: int, now: datetime, expires_at: datetime
    ) -> None:
        """A new reset link of the user (the user's used or expired ones are forgotten)."""
        ...

    def password_reset_by_hash(
        self, token_hash: str, *, for_update: bool = False
    ) -> PasswordReset | None: ...
    def use_password_resets_of(self, user_id: int, now: datetime) -> None:
        """Every outstanding reset link of the user used up (one reset ends them all)."""
        ...


class CardPinRepository(Protocol):
    def lock_card(self, identifier_id: int, now: datetime) -> CardCounter: ...
    def lock_asker(self, asker: str, now: datetime) -> AskerCounter: ...
    def store_card(self, identifier_id: int, card: CardCounter) -> None: ...
    def store_asker(self, asker: str, counter: AskerCounter) -> None: ...
    def card(self, identifier_id: int) -> CardCounter | None: ...
    def forget_card(self, identifier_id: int) -> None: ...
