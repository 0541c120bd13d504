"""RADIUS clients (NAS) and their shared secrets, matched by the longest network.

``VOXBILL_RADIUS_CLIENTS="127.0.0.1/32=secret,10.1.0.0/16=other"``: a packet from an
address no network covers is dropped unanswered (RFC 2865 §3).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from voxbill.domain.errors import InvalidInput

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class RadiusClient:
    network: Network
    secret: bytes


class RadiusClients:
    """The configured clients; :meth:`secret_for` answers for one source address."""

    def __init__(self, clients: list[RadiusClient]) -> None:
        # most specific first, so the first covering network is the longest match
        self._clients = sorted(clients, key=lambda c: c.network.prefixlen, reverse=True)

    @classmethod
    def parse(cls, text: str) -> RadiusClients:
        """Read ``network=secret`` pairs separated by commas; a bare address is a /32."""
        clients: list[RadiusClient] = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            network, sep, secret = item.partition("=")
            if not sep or not secret:
                raise InvalidInput(f"RADIUS client {item!r}: expected network=secret")
            try:
                net = ipaddress.ip_network(network.strip(), strict=False)
            except ValueError:
                raise InvalidInput(f"RADIUS client {network!r} is not an IP network") from None
            if any(c.network == net for c in clients):
                raise InvalidInput(f"RADIUS client {net} is configured twice")
            clients.append(RadiusClient(net, secret.encode()))
        return cls(clients)

    def __len__(self) -> int:
        return len(self._clients)

    def secret_for(self, address: str) -> bytes | None:
        """The secret of the most specific network holding ``address``, or ``None``."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for client in self._clients:
            if ip.version == client.network.version and ip in client.network:
                return client.secret
        return None
