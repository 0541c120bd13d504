"""Caller identifiers: what recognises a caller (ANI, SIP username, source IP or
network, card number + PIN), what each value may be, and how it is stored and looked up.

Pure: no framework, no database.

IP identifiers name one customer's addresses (a trunk, a PBX, a range of them). A
network that catches far more than that would bill whatever arrives from anywhere to
one account, so these are refused (``network_not_allowed``, HTTP 422):

* wider than a ``/8`` (IPv4) or a ``/32`` (IPv6, a whole provider's allocation), so
  ``0.0.0.0/0`` and ``::/0`` above all;
* unspecified (``0.0.0.0``, ``::``), loopback (``127.0.0.0/8``, ``::1``: the machine's
  own switch, a proxy for everybody), multicast and reserved ranges (``240.0.0.0/4``,
  the limited broadcast, IPv4-mapped IPv6), none of which a customer's trunk sends from.

Rows stored before these rules are never matched when wider than the minimum (see
:data:`MIN_PREFIX`, used by the lookup too).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from voxbill.domain.errors import InvalidInput, NetworkNotAllowed


class IdentifierType(StrEnum):
    ANI = "ani"
    SIP_USER = "sip_user"
    IP = "ip"
    CARD = "card"


@dataclass(frozen=True, slots=True)
class CallerIdentifier:
    """A registered identifier, as its account's owners see it (never a PIN's hash)."""

    id: int
    account_id: int
    type: IdentifierType
    value: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IdentifiedCaller:
    """Whom a call's caller was found to be."""

    account_id: int
    identifier_id: int
    type: IdentifierType
    #: the account's materialised path (``/operator/…/account/``)
    path: str


@dataclass(frozen=True, slots=True)
class IpRange:
    """An IP identifier's network as stored: its bounds as fixed-width hex (so that a
    containment test is a string comparison in any database)."""

    version: int
    start: str
    end: str
    prefix_len: int


@dataclass(frozen=True, slots=True)
class NewIdentifier:
    """An identifier about to be stored: its value normalised, a card's PIN hashed."""

    operator_id: int
    account_id: int
    type: IdentifierType
    value: str
    pin_hash: str | None = None
    network: IpRange | None = None


@dataclass(frozen=True, slots=True)
class CallerNetwork:
    """An IP identifier whose network holds a source address."""

    caller: IdentifiedCaller
    prefix_len: int


#: The shortest prefix an IP identifier may have, per IP version.
MIN_PREFIX: Final = {4: 8, 6: 32}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def network(value: str) -> Network:
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise InvalidInput(f"{value!r} is not an IP address or CIDR network") from None
    shortest = MIN_PREFIX[net.version]
    if net.prefixlen < shortest:
        raise NetworkNotAllowed(
            f"{net} is wider than a /{shortest}: an IP identifier names one customer's "
            "addresses, not a catch-all"
        )
    first = net.network_address
    for refused, why in (
        (first.is_unspecified, "the unspecified address"),
        (net.is_loopback, "loopback (this machine)"),
        (net.is_multicast, "multicast"),
        (net.is_reserved, "a reserved range"),
    ):
        if refused:
            raise NetworkNotAllowed(f"{net} is {why}: no customer's trunk calls from there")
    return net


def ip_range(net: Network) -> IpRange:
    """A network's bounds as stored and compared."""
    return IpRange(
        net.version, hex_of(net.network_address), hex_of(net.broadcast_address), net.prefixlen
    )


def source_address(value: str) -> Address | None:
    """A caller's source address as looked up; an IPv4-mapped IPv6 address (a dual-stack
    socket's view of an IPv4 peer) is its IPv4 address."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def hex_of(address: Address) -> str:
    return format(int(address), "08x" if address.version == 4 else "032x")


def sip_user(value: str) -> str:
    text = value.strip()
    if text.lower().startswith(("sip:", "sips:")):
        text = text.split(":", 1)[1].split("@", 1)[0]
    if not text or len(text) > 128 or any(c.isspace() or c in '@:;<>"' for c in text):
        raise InvalidInput(f"{value!r} is not a SIP username")
    return text


def card(value: str) -> str:
    text = value.strip().replace(" ", "").replace("-", "")
    if not text.isdigit() or not text.isascii() or not 4 <= len(text) <= 32:
        raise InvalidInput("a card number is 4 to 32 digits")
    return text


def pin(value: str | None) -> str:
    if value is None or not value.isdigit() or not value.isascii() or not 4 <= len(value) <= 12:
        raise InvalidInput("a card needs a PIN of 4 to 12 digits")
    return value
