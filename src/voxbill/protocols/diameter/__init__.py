"""Diameter Credit-Control (RFC 4006, 3GPP Gy) door onto charging and messaging.

wire (framing, python-diameter coding) → requests (CCR → :class:`GyRequest`) → gy
(service calls, retransmissions, usage totals) → answers (CCA / CEA / DWA / DPA);
peer holds one connection's state, server the asyncio listener.
"""

from __future__ import annotations

from typing import Any

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


def handler_for(container: Any, options: DiameterOptions) -> GyHandler:
    """The Gy handler over a container's charging and messaging services."""
    return GyHandler(
        container.charging,
        getattr(container, "messaging", None),
        operator_id=options.operator_id,
    )


def diameter_thread(container: Any, options: DiameterOptions) -> DiameterThread:
    """The listener for ``voxbill serve``: ``.start()`` it, ``.stop()`` it."""
    return DiameterThread(options, handler_for(container, options))
