"""A fake charging service for Diameter unit tests: 300 s chunks up to a limit, and
usage deltas added to a stored total by request number, as charging does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from voxbill.services.charging.service import (
    Authorization,
    CallerId,
    ChargingRefused,
    SessionGrant,
    SessionSettlement,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass
class FakeCharging:
    """Grants 300 s chunks up to ``limit``; records every call it gets."""

    limit: int = 900
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    refuse: str | None = None

    def _grant(self, session_id: str, used: int) -> SessionGrant:
        granted = min(used + 300, self.limit)
        return SessionGrant(
            session_id, 1, granted - used, self.limit, Decimal("0.1"), "USD", Decimal(5),
            NOW + timedelta(seconds=granted - used + 60), final=granted >= self.limit,
        )  # fmt: skip

    def start(self, session_id: str, caller: CallerId, callee: str, at: Any = None, *,
              interim: bool = False) -> SessionGrant:  # fmt: skip
        self.calls.append(("start", session_id, caller, callee, interim))
        if self.refuse:
            raise ChargingRefused(Authorization(False, self.refuse, None, 0, *[None] * 5))
        self.used[session_id] = 0
        return self._grant(session_id, 0)

    def _report(self, session_id: str, used: int | None, delta: int | None,
                number: int | None) -> int:  # fmt: skip
        """Charging's rule: a delta adds to the stored usage unless its number was counted."""
        if delta is None:
            assert used is not None
            return used
        last = self.last.get(session_id)
        if number is not None and last is not None and number <= last:
            return self.used[session_id]
        if number is not None:
            self.last[session_id] = number
        return self.used[session_id] + delta

    def update(self, session_id: str, used: int | None = None, *, used_delta: int | None = None,
               request_number: int | None = None) -> Any:  # fmt: skip
        total = self._report(session_id, used, used_delta, request_number)
        self.calls.append(("update", session_id, total, request_number))
        self.used[session_id] = total
        return self._grant(session_id, total)

    def stop(self, session_id: str, duration: int | None = None, *,
             used_delta: int | None = None, request_number: int | None = None,
             at: Any = None) -> SessionSettlement:  # fmt: skip
        duration = self._report(session_id, duration, used_delta, request_number)
        self.calls.append(("stop", session_id, duration, request_number))
        cost = Decimal("0.01") + Decimal(duration) * Decimal("0.1") / 60
        return SessionSettlement(session_id, 1, duration, duration, cost, "USD", Decimal(5), 9)
