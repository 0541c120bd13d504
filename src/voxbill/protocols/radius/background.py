"""Running the RADIUS listeners beside the HTTP server, on their own event loop thread."""

from __future__ import annotations

from typing import Any

from voxbill.domain.errors import InvalidInput
from voxbill.protocols.listener_thread import ListenerThread
from voxbill.protocols.radius.clients import RadiusClients
from voxbill.protocols.radius.server import RadiusServer
from voxbill.protocols.session_scope import scope_of


def radius_server(container: Any, host: str, port: int) -> RadiusServer:
    """A server for ``voxbill serve --radius PORT`` over a container's services; refuses
    to run without clients, or with a client bound to no operator (InvalidInput: one
    line for the operator, from ``serve``)."""
    settings = container.settings
    clients = RadiusClients.parse(
        settings.radius_clients, unsigned=settings.radius_unsigned_clients
    )
    if not clients:
        raise InvalidInput(
            "RADIUS needs clients: set VOXBILL_RADIUS_CLIENTS, e.g. '127.0.0.1/32=secret'"
        )
    clients = clients.bound(container.accounts.operator_ids())
    return RadiusServer(
        container.charging, clients, host=host, port=port, scope=scope_of(container)
    )


class RadiusThread(ListenerThread):
    """Starts ``server`` on a daemon thread; :meth:`start` returns once it listens."""

    def __init__(self, server: RadiusServer) -> None:
        self.server = server
        address = f"{server.host}:{server.auth_port} and {server.host}:{server.acct_port}"
        super().__init__("RADIUS", address, server.start, server.close)
