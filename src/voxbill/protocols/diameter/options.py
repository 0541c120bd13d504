"""How the Diameter door presents itself and where it listens."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from voxbill.settings import Settings


@dataclass(frozen=True, slots=True)
class DiameterOptions:
    origin_host: str = "voxbill.localdomain"
    origin_realm: str = "localdomain"
    host: str = "127.0.0.1"
    port: int = 3868
    #: The operator whose subscribers send messages (CCR-Event); calls need no operator.
    operator_id: int | None = None
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
            operator_id=settings.diameter_operator_id,
        )
