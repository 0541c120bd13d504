"""The one small interface every channel (email, SMS, webhook) implements, and an
in-memory one for unit tests. The real adapters live in :mod:`voxbill.gateways.notify`;
``bootstrap`` wires them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from voxbill.domain.notify import Channel


class DeliveryFailed(Exception):
    """A send that did not get through (the text becomes the attempt's error)."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """What one delivery sends: ``subject`` and ``text`` rendered from the templates
    (email, SMS), ``body`` the signed JSON (webhook)."""

    event_id: int
    event_type: str
    target: str
    subject: str
    text: str
    body: bytes
    secret: str | None
    sender_name: str | None = None
    sender_address: str | None = None


class ChannelSender(Protocol):
    def check_target(self, target: str) -> None:
        """Refuse a target this channel must never send to (``WebhookTargetForbidden``)."""
        ...

    def send(self, message: OutgoingMessage) -> None:
        """Send it, or raise ``DeliveryFailed`` (any other exception counts as one)."""
        ...


@dataclass
class RecordingSender:
    """An in-memory channel: records what it is given; ``fail`` decides, per message,
    an error text (a failed send) or None (sent)."""

    fail: Callable[[OutgoingMessage], str | None] = lambda message: None
    sent: list[OutgoingMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check_target(self, target: str) -> None:
        return None

    def send(self, message: OutgoingMessage) -> None:
        error = self.fail(message)
        if error is not None:
            raise DeliveryFailed(error)
        with self._lock:
            self.sent.append(message)


Channels = dict[Channel, ChannelSender]
