"""Limits on a door's stream connections: how many at once, how many per source.

A stream door (SIP over TCP, Diameter) admits a connection through :meth:`Gate.admit`
and lets it go with :meth:`Gate.release`; a connection over either cap is closed at
once, before anything is read from it, so descriptors stay available for the others
(and for the HTTP API in the same process). Idle and read timeouts are the doors' own:
they know what a half-sent message is (:data:`READ_TIMEOUT_SECONDS` is the default
for "a started message must be finished within").

Hand-written: a counter per source address under one event loop needs no lock and no
library; anything larger (rate per source over time) is not this module's job.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

#: Seconds a connection may stay silent between messages before it is closed.
IDLE_TIMEOUT_SECONDS = 120.0
#: Seconds a started message (bytes arrived, message not complete) may take to finish.
READ_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    #: connections open at once on this listener
    max_connections: int = 1024
    #: connections open at once from one source address
    max_per_source: int = 64
    idle_timeout: float = IDLE_TIMEOUT_SECONDS
    read_timeout: float = READ_TIMEOUT_SECONDS


class Gate:
    """Counts open connections in total and per source address (one event loop)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._by_source: Counter[str] = Counter()
        self._open = 0

    @property
    def open(self) -> int:
        return self._open

    def admit(self, source: str) -> bool:
        """True and counted, or False: over a cap (close the connection unread)."""
        if self._open >= self.limits.max_connections:
            return False
        if self._by_source[source] >= self.limits.max_per_source:
            return False
        self._open += 1
        self._by_source[source] += 1
        return True

    def release(self, source: str) -> None:
        self._open -= 1
        self._by_source[source] -= 1
        if self._by_source[source] <= 0:
            del self._by_source[source]
