"""Running the SIP server beside the API: a daemon thread with its own event loop.

:func:`sip_peers` binds ``VOXBILL_SIP_PEERS`` to the database's operators once, at
start: a peer naming no operator takes the sole one, and a setting that cannot be bound
(several operators and a peer naming none, an operator that does not exist, no operator
yet) stops ``voxbill serve`` with one line saying why, before anything listens.
"""

from __future__ import annotations

from voxbill.bootstrap import Container
from voxbill.domain.errors import InvalidInput
from voxbill.protocols.listener_thread import ListenerThread
from voxbill.protocols.peers import AUTHORIZE_ONLY, Peers
from voxbill.protocols.session_scope import scope_of
from voxbill.protocols.sip.door import RedirectDoor
from voxbill.protocols.sip.server import SipServer
from voxbill.serving.connections import READ_TIMEOUT_SECONDS, ConnectionLimits
from voxbill.settings import Settings

SETTING = "VOXBILL_SIP_PEERS"


def sip_peers(container: Container) -> Peers:
    """Who may ask the SIP door, each bound to its operator (InvalidInput otherwise)."""
    text = container.settings.sip_peers
    peers = Peers.parse(text, setting=SETTING, options=frozenset({AUTHORIZE_ONLY}))
    operators = set(container.accounts.operator_ids())
    if not operators:
        raise InvalidInput(
            f"{SETTING}: there is no operator yet to answer SIP for (create one with "
            "`voxbill init`), so the SIP door cannot start"
        )
    if not text.strip() and len(operators) > 1:
        raise InvalidInput(
            f"{SETTING} is not set (loopback only, no operator) and there are "
            f"{len(operators)} operators; set it with each peer's operator, "
            "e.g. 127.0.0.1/32=OPERATOR_ID"
        )
    return peers.bound(sorted(operators))


def stream_limits(settings: Settings) -> ConnectionLimits:
    """SIP over TCP's caps and timeouts from the ``VOXBILL_STREAM_*`` settings."""
    idle = settings.stream_idle_timeout_seconds
    return ConnectionLimits(
        max_connections=settings.stream_max_connections,
        max_per_source=settings.stream_max_per_source,
        idle_timeout=idle,
        read_timeout=min(READ_TIMEOUT_SECONDS, idle),
    )


def sip_server(
    container: Container,
    host: str,
    port: int,
    *,
    peers: Peers | None = None,
    reuse_port: bool = False,
) -> SipServer:
    """The redirect server over the container's services; ``peers`` already bound
    (the SIP processes get their parent's), else bound here."""
    door = RedirectDoor(container.charging, container.routing, scope=scope_of(container))
    return SipServer(
        door,
        host=host,
        port=port,
        reuse_port=reuse_port,
        peers=peers if peers is not None else sip_peers(container),
        limits=stream_limits(container.settings),
    )


class SipThread(ListenerThread):
    """``start()`` returns once UDP and TCP are bound (or raises why they are not)."""

    def __init__(self, server: SipServer) -> None:
        self.server = server
        super().__init__("SIP", f"{server.host}:{server.port}", server.start, server.stop)
