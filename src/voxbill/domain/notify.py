"""Notifications: event types, subscriptions, deliveries and the rules about them.

An outbox event (written in the transaction that caused it) is *fanned out* once into
one delivery per subscription that wants it, then each delivery is sent at least once:
retried with exponential backoff and jitter, ``dead`` after the last attempt allowed.
Everything here is pure: the clock and the random source are passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

from voxbill.domain.errors import InvalidInput


class WebhookTargetForbidden(InvalidInput):
    """A webhook URL whose host is (or resolves to) a loopback, link-local, private,
    reserved, multicast or unspecified address, and is not in
    ``VOXBILL_WEBHOOK_ALLOW_HOSTS``."""

    code = "webhook_target_forbidden"


#: Every event type a subscription may name (CONTRACT.md, "Notifications").
EVENT_TYPES: Final = (
    "balance.low",
    "balance.blocked",
    "balance.restored",
    "topup.received",
    "payment.failed",
    "price.changed",
    "did.renewal_due",
    "did.renewal_failed",
    "did.released",
    "invoice.issued",
)

#: Outbox topics written under another name than the public event type: the ledger's
#: threshold crossings (``domain.ledger.ThresholdEvent``) and an account blocked by
#: hand. A topic that is an event type is delivered as itself; any other
#: (``balance.alert_rearmed``, ``card.pin_locked``) is internal and delivered to nobody.
#: The outbox topic of an account blocked by hand (``AccountService.patch``).
ACCOUNT_BLOCKED: Final = "account.blocked"

TOPIC_EVENTS: Final[Mapping[str, str]] = {
    ACCOUNT_BLOCKED: "balance.blocked",
    "balance.alert_crossed_down": "balance.low",
    "balance.block_reached": "balance.blocked",
    "balance.restored": "balance.restored",
}


def event_type_of(topic: str) -> str | None:
    """The public event type an outbox topic is delivered as (None: not delivered)."""
    if topic in TOPIC_EVENTS:
        return TOPIC_EVENTS[topic]
    return topic if topic in EVENT_TYPES else None


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # never tried
    FAILED = "failed"  # tried, will be tried again at next_attempt_at
    DELIVERED = "delivered"  # sent; never sent again
    DEAD = "dead"  # the last attempt allowed failed (or the subscription was deleted)


_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def check_target(channel: Channel, target: str) -> str:
    """The target in its stored form, or ``InvalidInput``: an email address, an E.164
    number (``+`` and 7 to 15 digits) or an http(s) URL with a host. Whether a webhook's
    host may be reached is the channel's check (it resolves the name)."""
    target = target.strip()
    if channel is Channel.EMAIL:
        if len(target) > 254 or not _EMAIL.match(target):
            raise InvalidInput(f"not an email address: {target!r}")
        return target
    if channel is Channel.SMS:
        if not _E164.match(target):
            raise InvalidInput(f"not an E.164 number (+ and 7 to 15 digits): {target!r}")
        return target
    if len(target) > 2000:
        raise InvalidInput("webhook URL longer than 2000 characters")
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise InvalidInput(f"not a URL: {target!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"a webhook target is an http:// or https:// URL: {target!r}")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("a webhook URL may not carry credentials")
    return target


def check_events(events: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
        )
    if not events:
        raise InvalidInput("a subscription names at least one event type")
    return tuple(sorted(set(events)))


def address_forbidden(address: str) -> bool:
    """True for an address a webhook may not reach: loopback, link-local, private
    (RFC 1918, unique-local, CGNAT), reserved, multicast, unspecified — IPv4 and IPv6,
    an IPv4-mapped or -compatible IPv6 address judged as its IPv4 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None or ip.teredo is not None:
            return True  # tunnels to an IPv4 address we would have to judge as well
    return (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def allowed_hosts(setting: str) -> frozenset[str]:
    """``VOXBILL_WEBHOOK_ALLOW_HOSTS``: comma-separated host names or addresses."""
    return frozenset(h.strip().lower().strip("[]") for h in setting.split(",") if h.strip())


@dataclass(frozen=True, slots=True)
class NewSubscription:
    account_id: int
    channel: Channel
    target: str
    events: tuple[str, ...]
    subtree: bool
    #: webhooks: the HMAC key (stored as given: a hash could not sign)
    secret: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    account_id: int
    account_path: str
    channel: Channel
    target: str
    events: tuple[str, ...]
    subtree: bool
    secret: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """An outbox event as receivers see it (the webhook body)."""

    id: int
    type: str
    account_id: int | None
    created_at: datetime
    data: dict[str, Any]

    def body(self) -> bytes:
        """The webhook body: compact JSON, the bytes that are signed."""
        return json.dumps(
            {
                "id": self.id,
                "type": self.type,
                "created_at": self.created_at.isoformat(),
                "account_id": self.account_id,
                "data": self.data,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()


#: A template for every event type of a channel (a reseller's sender, say).
ANY_EVENT: Final = "*"


@dataclass(frozen=True, slots=True)
class NotifyTemplate:
    """An operator's or reseller's own wording and sender for one event type ("*": every
    type) on one channel (email or SMS); None fields fall back to the shipped default
    and the server's sender. The nearest such account above a subscriber wins."""

    account_id: int
    event_type: str
    channel: Channel
    subject: str | None
    body: str | None
    sender_name: str | None
    sender_address: str | None
    updated_at: datetime


def nearest_template(
    templates: list[NotifyTemplate], path: str, event_type: str
) -> NotifyTemplate | None:
    """Of the templates set on the accounts of ``path`` (the subscriber's, root first),
    the nearest account's: its template for ``event_type``, else its "*" one."""
    chain = [int(part) for part in path.strip("/").split("/")]
    for account_id in reversed(chain):
        mine = [t for t in templates if t.account_id == account_id]
        for wanted in (event_type, ANY_EVENT):
            for template in mine:
                if template.event_type == wanted:
                    return template
    return None


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """A claimed delivery: what to send, to whom, under which claim (and the template
    the subscriber's nearest operator or reseller set, if any)."""

    delivery_id: int
    claim: str
    attempts: int  # before this one
    event: Event
    subscription: Subscription
    template: NotifyTemplate | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_id: int
    type: str
    account_id: int  # the subscriber's
    event_account_id: int | None
    subscription_id: int
    channel: Channel
    target: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery_id: int
    number: int
    at: datetime
    ok: bool
    error: str | None
    worker: str


@dataclass(frozen=True, slots=True)
class Backoff:
    """When a failed delivery is tried again: ``base * 2**(n-1)`` seconds after its
    n-th failure, capped, stretched by up to ``jitter`` (a fraction) at random so that
    receivers coming back are not hit by every delivery at once; dead after
    ``max_attempts`` attempts."""

    max_attempts: int
    base_seconds: float
    max_seconds: float
    jitter: float = 0.2

    def after_failure(self, attempts: int, now: datetime, rand: float) -> datetime | None:
        """The next attempt after the ``attempts``-th failed (None: dead)."""
        if attempts >= self.max_attempts:
            return None
        delay = min(self.max_seconds, self.base_seconds * 2 ** (attempts - 1))
        return now + timedelta(seconds=delay * (1 + self.jitter * rand))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Voxbill-Signature`` header: ``t=<unix>,v1=<hex HMAC-SHA256(secret,
    "<t>.<body>")>``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, header: str, body: bytes, now: int, tolerance_seconds: int = 300
) -> bool:
    """What a receiver does (docs/notifications.md): the HMAC matches and ``t`` is
    within the tolerance of its clock."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
