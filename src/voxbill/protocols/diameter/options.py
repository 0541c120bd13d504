"""How the Diameter door presents itself, where it listens, and who may talk to it.

Peers: ``VOXBILL_DIAMETER_PEERS``, networks bound to operators in the SIP peers' form
(:mod:`voxbill.protocols.peers`; empty: loopback only). A connection from an address
no network covers is closed before anything is read; the peer's operator scopes every
request on the connection. ``VOXBILL_DIAMETER_PEER_HOSTS``: the Origin-Hosts a peer
may name in its CER (empty: any); another gets CEA 3010 (DIAMETER_UNKNOWN_PEER) and
the connection closes. ``VOXBILL_DIAMETER_OPERATOR_ID`` (deprecated) binds the peers
that name no operator, instead of the sole operator.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from voxbill.domain.errors import InvalidInput
from voxbill.protocols.peers import Peers
from voxbill.serving.connections import ConnectionLimits
from voxbill.settings import Settings

PEERS_SETTING = "VOXBILL_DIAMETER_PEERS"


def loopback_peers() -> Peers:
    return Peers.parse("", setting=PEERS_SETTING)


def parse_hosts(text: str) -> frozenset[str]:
    """``"pgw1.example.net, ocs-client"`` → the names, lowercase (DiameterIdentity is an
    FQDN: compared without case)."""
    return frozenset(part.strip().lower() for part in text.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class DiameterOptions:
    origin_host: str = "voxbill.localdomain"
    origin_realm: str = "localdomain"
    host: str = "127.0.0.1"
    port: int = 3868
    #: Who may connect, each network bound to an operator (see the module docstring).
    peers: Peers = field(default_factory=loopback_peers)
    #: Origin-Hosts allowed in a CER, lowercase; empty: any from an allowed address.
    peer_hosts: frozenset[str] = frozenset()
    #: Deprecated (``VOXBILL_DIAMETER_OPERATOR_ID``): the operator of the peers that
    #: name none, instead of the sole operator.
    operator_id: int | None = None
    #: Connections at once, per source address, idle and read timeouts.
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    #: Requests in progress per listener before new ones get 3004 (too busy).
    max_pending: int = 512
    #: Threads that run the blocking service calls.
    workers: int = 16
    product_name: str = "voxbill"
    vendor_id: int = 0
    state_id: int = field(default_factory=lambda: int(time.time()) & 0xFFFFFFFF)

    @classmethod
    def from_settings(cls, settings: Settings, port: int | None = None) -> DiameterOptions:
        return cls(
            origin_host=settings.diameter_origin_host,
            origin_realm=settings.diameter_origin_realm,
            host=settings.diameter_host,
            port=port or settings.diameter_port or 3868,
            peers=Peers.parse(settings.diameter_peers, setting=PEERS_SETTING),
            peer_hosts=parse_hosts(settings.diameter_peer_hosts),
            operator_id=settings.diameter_operator_id,
            limits=ConnectionLimits(
                max_connections=settings.stream_max_connections,
                max_per_source=settings.stream_max_per_source,
                idle_timeout=settings.stream_idle_timeout_seconds,
            ),
        )

    @property
    def is_bound(self) -> bool:
        return all(peer.operator_id is not None for peer in self.peers)

    def bound(self, operator_ids: Sequence[int]) -> DiameterOptions:
        """Every peer bound to an existing operator (:meth:`Peers.bound`); a peer that
        names none takes ``operator_id`` when set. InvalidInput when that fails."""
        peers = self.peers
        if self.operator_id is not None:
            default = self.operator_id
            named = (p if p.operator_id else replace(p, operator_id=default) for p in peers)
            peers = Peers(named, setting=peers.setting)
        if self._unset() and len(set(operator_ids)) > 1 and self.operator_id is None:
            raise InvalidInput(
                f"{PEERS_SETTING} is not set (loopback only, no operator) and there are "
                f"{len(set(operator_ids))} operators; set it with each peer's operator, "
                "e.g. 127.0.0.1/32=OPERATOR_ID"
            )
        return replace(self, peers=peers.bound(operator_ids))

    def _unset(self) -> bool:
        """The peers are the default: loopback, bound to nothing."""
        default = {peer.network for peer in loopback_peers()}
        return {peer.network for peer in self.peers} == default and not any(
            peer.operator_id for peer in self.peers
        )
