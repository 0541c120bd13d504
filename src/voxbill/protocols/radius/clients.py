"""RADIUS clients (NAS): networks, each with its shared secret and its operator.

``VOXBILL_RADIUS_CLIENTS="127.0.0.1/32=secret,10.1.0.0/16=other@7"`` (CONTRACT.md):
``NETWORK=SECRET`` or ``NETWORK=SECRET@OPERATOR_ID``. The secret is everything after
the first ``=``; when it ends in ``@`` followed by ASCII digits only, that last part is
the operator root account id and the rest the secret (``p@ss@7``: secret ``p@ss``,
operator 7; a secret that itself ends in ``@digits`` is written with its operator,
``abc@123@7``). A secret cannot contain a comma. Binding is the other doors' rule
(:mod:`voxbill.protocols.peers`): with a single operator a client that names none is
bound to it; with several, every client names one, else RADIUS refuses to start.

``VOXBILL_RADIUS_UNSIGNED_CLIENTS="10.9.0.0/16"``: client networks (each exactly one of
the networks above) whose Access-Requests may come without a Message-Authenticator.
Every other client's must carry a valid one (RFC 3579 §3.2, the BlastRADIUS guidance):
without it an Access-Request that has no User-Password proves nothing about the secret.

A packet from an address no network covers is dropped unanswered (RFC 2865 §3). The
parsing and longest-prefix match are ``Peers``'; this module adds the secret's rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from voxbill.domain.errors import InvalidInput
from voxbill.protocols.peers import Network, Peer, Peers, parse_network, parse_operator

CLIENTS_SETTING = "VOXBILL_RADIUS_CLIENTS"
UNSIGNED_SETTING = "VOXBILL_RADIUS_UNSIGNED_CLIENTS"


@dataclass(frozen=True, slots=True)
class RadiusClient:
    """One NAS network: its secret, its operator (None until bound), and whether its
    Access-Requests must carry a Message-Authenticator (``signed``)."""

    network: Network
    secret: bytes
    operator_id: int | None
    signed: bool = True


def parse_client(item: str) -> Peer:
    """``NETWORK=SECRET[@OPERATOR_ID]`` as a peer with its secret (see the module doc).
    Errors name the network, never the secret."""
    network, sep, secret = item.partition("=")
    if not sep or not network.strip():
        raise InvalidInput(f"{CLIENTS_SETTING}: expected NETWORK=SECRET[@OPERATOR_ID] items")
    net = parse_network(network, CLIENTS_SETTING)
    head, at, tail = secret.rpartition("@")
    operator_id = None
    if at and tail.isascii() and tail.isdigit():
        operator_id = parse_operator(tail, f"{CLIENTS_SETTING} {net}")
        secret = head
    if not secret:
        raise InvalidInput(f"{CLIENTS_SETTING}: {net} has an empty secret")
    return Peer(net, operator_id, secret.encode())


class RadiusClients:
    """The configured clients; :meth:`match` answers for one source address."""

    def __init__(self, peers: Peers, unsigned: frozenset[Network] = frozenset()) -> None:
        self._peers = peers
        self._clients = {
            peer.network: RadiusClient(
                peer.network, peer.secret or b"", peer.operator_id, peer.network not in unsigned
            )
            for peer in peers
        }
        self._unsigned = unsigned

    @classmethod
    def parse(cls, text: str, *, unsigned: str = "") -> RadiusClients:
        """Clients from the settings' text; empty text: no clients (RADIUS needs some)."""
        items = [part.strip() for part in text.split(",") if part.strip()]
        peers = Peers((parse_client(item) for item in items), setting=CLIENTS_SETTING)
        networks = {peer.network for peer in peers}
        legacy: set[Network] = set()
        for part in (p.strip() for p in unsigned.split(",")):
            if not part:
                continue
            net = parse_network(part, UNSIGNED_SETTING)
            if net not in networks:
                raise InvalidInput(
                    f"{UNSIGNED_SETTING}: {net} is not one of the networks of {CLIENTS_SETTING}"
                )
            legacy.add(net)
        return cls(peers, frozenset(legacy))

    def bound(self, operator_ids: Sequence[int]) -> RadiusClients:
        """Every client bound to an existing operator (see :meth:`Peers.bound`)."""
        operators = len(set(operator_ids))
        for client in self:
            if client.operator_id is None and operators != 1:
                raise InvalidInput(
                    f"{CLIENTS_SETTING}: {client.network} names no operator and there are "
                    f"{operators} operators; write it as {client.network}=SECRET@OPERATOR_ID"
                )
        return RadiusClients(self._peers.bound(operator_ids), self._unsigned)

    @property
    def is_bound(self) -> bool:
        return all(client.operator_id is not None for client in self)

    def __len__(self) -> int:
        return len(self._clients)

    def __iter__(self) -> Iterator[RadiusClient]:
        return iter(self._clients[peer.network] for peer in self._peers)

    def match(self, address: str) -> RadiusClient | None:
        """The most specific client whose network holds ``address``, or ``None``."""
        peer = self._peers.match(address)
        return None if peer is None else self._clients[peer.network]
