"""Diameter Credit-Control (RFC 4006, 3GPP Gy) door onto charging and messaging.

wire (framing, python-diameter coding) → requests (CCR → :class:`GyRequest`) → gy
(service calls, retransmissions, usage totals) → answers (CCA / CEA / DWA / DPA);
peer holds one connection's state, server the asyncio listener; options say who may
connect (peers bound to operators, Origin-Hosts) and the connection limits.
"""

from __future__ import annotations

from typing import Any

from voxbill.protocols.session_scope import scope_of

from .gy import GyHandler, GyResult
from .options import DiameterOptions
from .server import DiameterServer, DiameterThread

__all__ = [
    "DiameterOptions",
    "DiameterServer",
    "DiameterThread",
    "GyHandler",
    "GyResult",
    "diameter_thread",
    "handler_for",
]


def handler_for(container: Any, options: DiameterOptions | None = None) -> GyHandler:
    """The Gy handler over a container's charging and messaging services, each request
    scoped to its peer's operator (``options`` is kept for older callers)."""
    return GyHandler(
        container.charging,
        getattr(container, "messaging", None),
        scope=scope_of(container),
    )


def diameter_thread(container: Any, options: DiameterOptions) -> DiameterThread:
    """The listener for ``voxbill serve``: ``.start()`` it, ``.stop()`` it. Its peers are
    bound to the database's operators first (InvalidInput: one line from ``serve``)."""
    bound = options.bound(container.accounts.operator_ids())
    return DiameterThread(bound, handler_for(container))
