"""Caller identifiers: how a call's caller is recognised, and the hot-path lookup.

ANI (E.164 digits), SIP username, source IP or CIDR network, and card number + PIN (the
PIN hashed with argon2id). Each value is unique per operator. :meth:`identify` is what
charging calls for every call: exact matches by index, and for IPs the longest network.
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from voxbill.domain import access
from voxbill.domain.access import Principal
from voxbill.domain.errors import Conflict, InvalidInput, InvalidPin
from voxbill.domain.numbers import normalize_number
from voxbill.services.ttl_cache import TtlCache
from voxbill.settings import Settings
from voxbill.storage import account_repository as accounts_repo
from voxbill.storage import auth_repository as repo
from voxbill.storage.database import Database

# PINs have little entropy whatever the hash; a lighter argon2id keeps card calls fast.
_PINS = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


class IdentifierType(StrEnum):
    ANI = "ani"
    SIP_USER = "sip_user"
    IP = "ip"
    CARD = "card"


@dataclass(frozen=True, slots=True)
class CallerIdentifier:
    id: int
    account_id: int
    type: IdentifierType
    value: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IdentifiedCaller:
    account_id: int
    identifier_id: int
    type: IdentifierType


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise InvalidInput(f"{value!r} is not an IP address or CIDR network") from None


def _hex(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return format(int(address), "08x" if address.version == 4 else "032x")


def _sip_user(value: str) -> str:
    text = value.strip()
    if text.lower().startswith(("sip:", "sips:")):
        text = text.split(":", 1)[1].split("@", 1)[0]
    if not text or len(text) > 128 or any(c.isspace() or c in '@:;<>"' for c in text):
        raise InvalidInput(f"{value!r} is not a SIP username")
    return text


def _card(value: str) -> str:
    text = value.strip().replace(" ", "").replace("-", "")
    if not text.isdigit() or not text.isascii() or not 4 <= len(text) <= 32:
        raise InvalidInput("a card number is 4 to 32 digits")
    return text


def _record(row: Any) -> CallerIdentifier:
    return CallerIdentifier(
        row.id, row.account_id, IdentifierType(row.type), row.value, row.created_at
    )


class IdentifierService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        #: (operator, ani, sip user, ip) -> the answer, for ``hot_cache_seconds``: a new
        #: identifier is cached away at once on this node, on others within the TTL
        self._found: TtlCache[tuple[Any, ...], IdentifiedCaller | None] = TtlCache(
            settings.hot_cache_seconds
        )

    def _ani(self, value: str) -> str:
        return normalize_number(
            value,
            default_region=self._settings.default_region,
            international_prefix=self._settings.international_prefix,
        )

    def _stored(self, type_: IdentifierType, value: str, pin: str | None) -> dict[str, Any]:
        if type_ is not IdentifierType.CARD and pin is not None:
            raise InvalidInput("a PIN goes with a card identifier only")
        if type_ is IdentifierType.ANI:
            return {"value": self._ani(value)}
        if type_ is IdentifierType.SIP_USER:
            return {"value": _sip_user(value)}
        if type_ is IdentifierType.IP:
            net = _network(value)
            return {
                "value": str(net),
                "ip_version": net.version,
                "net_start": _hex(net.network_address),
                "net_end": _hex(net.broadcast_address),
                "prefix_len": net.prefixlen,
            }
        if pin is None or not pin.isdigit() or not 4 <= len(pin) <= 12:
            raise InvalidInput("a card needs a PIN of 4 to 12 digits")
        return {"value": _card(value), "pin_hash": _PINS.hash(pin)}

    def add(
        self,
        principal: Principal,
        account_id: int,
        type_: IdentifierType,
        value: str,
        pin: str | None,
    ) -> CallerIdentifier:
        with self._db.transaction() as conn:
            account = access.require_visible(principal, accounts_repo.get(conn, account_id))
            access.check_identifiers(principal, account)
            values = self._stored(type_, value, pin)
            if repo.identifier_exists(conn, account.operator_id, type_.value, values["value"]):
                raise Conflict(f"{type_} {values['value']} already identifies a caller")
            values |= {"operator_id": account.operator_id, "account_id": account.id}
            new_id = repo.insert_identifier(conn, values | {"type": type_.value})
            rows = repo.identifiers_of(conn, account.id)
        self._found.clear()
        return next(_record(r) for r in rows if r.id == new_id)

    def list(self, principal: Principal, account_id: int) -> list[CallerIdentifier]:
        with self._db.transaction(readonly=True) as conn:
            access.require_visible(principal, accounts_repo.get(conn, account_id))
            return [_record(r) for r in repo.identifiers_of(conn, account_id)]

    def identify(
        self,
        *,
        operator_id: int | None = None,
        ani: str | None = None,
        sip_user: str | None = None,
        ip: str | None = None,
        card: str | None = None,
        pin: str | None = None,
    ) -> IdentifiedCaller | None:
        """The account a caller belongs to, or ``None`` (unknown caller: refuse the call).
        A known card with a wrong or missing PIN raises :class:`InvalidPin`.

        Tried in order: card + PIN, SIP username, ANI, source IP (exact, then the longest
        network). Without ``operator_id`` a value claimed under two operators is ambiguous
        and identifies nobody.
        """
        if card is not None:
            with self._db.transaction(readonly=True) as conn:
                return self._card(conn, operator_id, card, pin)
        key = (operator_id, ani, sip_user, ip)
        return self._found.get(key, lambda: self._lookup(operator_id, ani, sip_user, ip))

    def _lookup(
        self, operator_id: int | None, ani: str | None, sip_user: str | None, ip: str | None
    ) -> IdentifiedCaller | None:
        with self._db.transaction(readonly=True) as conn:
            attempts: list[tuple[IdentifierType, str]] = []
            if sip_user:
                attempts.append((IdentifierType.SIP_USER, sip_user.strip()))
            if ani:
                with contextlib.suppress(InvalidInput):  # not a number: no ANI match
                    attempts.append((IdentifierType.ANI, self._ani(ani)))
            for type_, value in attempts:
                rows = repo.find_identifiers(conn, type_.value, value, operator_id)
                if len(rows) == 1:
                    return IdentifiedCaller(rows[0].account_id, rows[0].id, type_)
            if ip:
                return self._ip(conn, operator_id, ip)
        return None

    def _card(
        self, conn: Any, operator_id: int | None, card: str, pin: str | None
    ) -> IdentifiedCaller | None:
        try:
            number = _card(card)
        except InvalidInput:
            return None
        rows = repo.find_identifiers(conn, IdentifierType.CARD.value, number, operator_id)
        if len(rows) != 1:
            return None
        # Said apart from an unknown card on purpose: the switch prompts for the PIN again
        # (RADIUS h323-return-code 2). Card numbers are long and only trusted switches ask.
        if pin is None:
            raise InvalidPin("a PIN is required for this card")
        try:
            _PINS.verify(rows[0].pin_hash, pin)
        except (VerificationError, InvalidHashError):
            raise InvalidPin("wrong PIN for this card") from None
        return IdentifiedCaller(rows[0].account_id, rows[0].id, IdentifierType.CARD)

    def _ip(self, conn: Any, operator_id: int | None, ip: str) -> IdentifiedCaller | None:
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return None
        rows = repo.find_network(conn, address.version, _hex(address), operator_id)
        if not rows or (len(rows) == 2 and rows[1].prefix_len == rows[0].prefix_len):
            return None
        return IdentifiedCaller(rows[0].account_id, rows[0].id, IdentifierType.IP)
