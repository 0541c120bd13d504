"""Who may talk to a switch door: networks, each bound to an operator.

``VOXBILL_SIP_PEERS="127.0.0.1/32,10.1.0.0/16=7"`` and ``VOXBILL_DIAMETER_PEERS`` use
this form (CONTRACT.md): a network (a bare address is a host network), optionally
``=OPERATOR_ID`` (the operator root account whose callers the peer may ask about).
Empty: loopback only. A SIP peer may add options after ``;``: ``;authorize-only`` (a
switch that routes for itself: the SIP door answers it with a 302 to the request's own
URI and the billing headers, never with vendor routes), e.g.
``10.1.0.0/16=7;authorize-only``; a door that knows no options refuses any. With a
single operator in the database, a peer that names none is
bound to it; with several, every peer must name its operator (else the door refuses to
start: a peer bound to no operator would look callers up across operators).

The longest network covering a source address wins; an address no network covers gets
nothing from the door (no answer, no hint that voxbill listens there). A door looks its
source up with :meth:`Peers.match`, which costs one pass over a short sorted list.

Hand-written because the standard library's ``ipaddress`` does the networks and no
library knows this setting's form; it is the one parser the doors share (RADIUS clients
add ``=SECRET`` before the optional ``@OPERATOR_ID``, see ``radius/clients.py``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from voxbill.domain.errors import InvalidInput

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: What an empty setting means: this host only.
LOOPBACK = "127.0.0.0/8,::1/128"
#: The SIP peer option of a switch that routes for itself (see the module docstring).
AUTHORIZE_ONLY = "authorize-only"


@dataclass(frozen=True, slots=True)
class Peer:
    """One allowed network, the operator it acts for (None until bound), and whatever
    the door keeps with it (a RADIUS secret, say)."""

    network: Network
    operator_id: int | None = None
    secret: bytes | None = None
    #: ``;authorize-only`` (SIP): charge and answer with the request's own URI, no routes
    authorize_only: bool = False


def parse_network(text: str, what: str) -> Network:
    """A network from ``10.0.0.0/8`` or a bare address; InvalidInput naming ``what``."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise InvalidInput(f"{what} {text.strip()!r} is not an IP network") from None


def parse_operator(text: str, what: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise InvalidInput(f"{what}: operator {value!r} is not an account id")
    return int(value)


def source_address(address: str) -> Address | None:
    """A socket's source address as an IP (IPv4-mapped IPv6 as IPv4; scope dropped)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class Peers:
    """An allow-list of networks; :meth:`match` answers for one source address."""

    def __init__(self, peers: Iterable[Peer], *, setting: str = "peers") -> None:
        listed = list(peers)
        seen: set[Network] = set()
        for peer in listed:
            if peer.network in seen:
                raise InvalidInput(f"{setting}: {peer.network} is listed twice")
            seen.add(peer.network)
        # most specific first, so the first covering network is the longest match
        self._peers = sorted(listed, key=lambda p: p.network.prefixlen, reverse=True)
        self.setting = setting

    @classmethod
    def parse(
        cls, text: str, *, setting: str = "peers", options: frozenset[str] = frozenset()
    ) -> Peers:
        """``NETWORK[=OPERATOR_ID][;OPTION]...`` items separated by commas; empty:
        loopback only. ``options``: the options this door knows (others: InvalidInput)."""
        peers: list[Peer] = []
        for item in _items(text or LOOPBACK):
            address, *flags = (part.strip() for part in item.split(";"))
            for flag in flags:
                if flag.lower() not in options:
                    known = ", ".join(sorted(options)) or "none"
                    raise InvalidInput(
                        f"{setting} {item!r}: unknown option {flag!r} (known: {known})"
                    )
            network, sep, operator = address.partition("=")
            operator_id = parse_operator(operator, f"{setting} {item!r}") if sep else None
            authorize_only = AUTHORIZE_ONLY in {flag.lower() for flag in flags}
            peers.append(Peer(parse_network(network, setting), operator_id, None, authorize_only))
        return cls(peers, setting=setting)

    def __len__(self) -> int:
        return len(self._peers)

    def __iter__(self) -> Iterator[Peer]:
        return iter(self._peers)

    def match(self, address: str) -> Peer | None:
        """The most specific peer whose network holds ``address``; None: a stranger."""
        ip = source_address(address)
        if ip is None:
            return None
        for peer in self._peers:
            if ip.version == peer.network.version and ip in peer.network:
                return peer
        return None

    def bound(self, operator_ids: Sequence[int]) -> Peers:
        """Every peer bound to an existing operator: one that names none takes the sole
        operator; InvalidInput when that is ambiguous or a named operator does not exist.
        """
        known = set(operator_ids)
        peers: list[Peer] = []
        for peer in self._peers:
            if peer.operator_id is None:
                if len(known) != 1:
                    raise InvalidInput(
                        f"{self.setting}: {peer.network} names no operator and there are "
                        f"{len(known)} operators; write it as {peer.network}=OPERATOR_ID"
                    )
                peer = replace(peer, operator_id=next(iter(known)))
            elif peer.operator_id not in known:
                raise InvalidInput(
                    f"{self.setting}: {peer.network} names operator {peer.operator_id}, "
                    "which is not an operator's root account"
                )
            peers.append(peer)
        return Peers(peers, setting=self.setting)


def _items(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
