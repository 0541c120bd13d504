"""What the RADIUS door needs from charging (``ChargingService`` in production, a fake
in unit tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from voxbill.services.charging.service import (
    Authorization,
    CallerId,
    SessionGrant,
    SessionSettlement,
)


class Charging(Protocol):
    def authorize(
        self, caller: CallerId, callee: str, at: datetime | None = None
    ) -> Authorization: ...

    def start(
        self,
        session_id: str,
        caller: CallerId,
        callee: str,
        at: datetime | None = None,
        *,
        interim: bool = False,
    ) -> SessionGrant: ...

    def update(
        self, session_id: str, used_seconds: int, *, request_number: int | None = None
    ) -> SessionGrant: ...

    def stop(
        self,
        session_id: str,
        duration: int,
        *,
        request_number: int | None = None,
        at: datetime | None = None,
    ) -> SessionSettlement: ...
