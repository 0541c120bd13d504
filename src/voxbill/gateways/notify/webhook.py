"""Webhooks: an HTTP POST of the event's JSON, signed, to a URL that may not reach
inside the network (SSRF).

The host is resolved and every address it resolves to is checked
(:func:`voxbill.domain.notify.address_forbidden`) at subscription time and again at each
send; the request is then made to the checked address itself (the URL's host kept in
the ``Host`` header and, for https, as the TLS server name), so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot redirect it. Redirects are
never followed (a 3xx is a failed attempt). A host listed in
``VOXBILL_WEBHOOK_ALLOW_HOSTS`` is exempt and connected to by name.

Residual risk (docs/notifications.md): a public address that forwards to an internal
one (an open proxy the operator runs) is not detected.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import httpx

from voxbill.domain.notify import WebhookTargetForbidden, address_forbidden, signature
from voxbill.services.notify.channels import DeliveryFailed, OutgoingMessage

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DeliveryFailed(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_allowed(
    url: str, allow_hosts: frozenset[str], resolver: Resolver = system_resolver
) -> str | None:
    """The address to connect to for ``url`` (None: an allowed host, by name), or
    ``WebhookTargetForbidden`` when any address its host resolves to is forbidden."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in allow_hosts:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolver(host, port)
        except DeliveryFailed as exc:
            raise WebhookTargetForbidden(f"webhook host {host!r} does not resolve") from exc
    if not addresses:
        raise WebhookTargetForbidden(f"webhook host {host!r} does not resolve")
    bad = [a for a in addresses if address_forbidden(a)]
    if bad:
        raise WebhookTargetForbidden(
            f"webhook host {host!r} is (or resolves to) a loopback, link-local, private or "
            f"reserved address ({bad[0]}); an operator may allow it in "
            "VOXBILL_WEBHOOK_ALLOW_HOSTS"
        )
    return addresses[0]


class WebhookSender:
    """POSTs the event body with ``Voxbill-Signature`` to the subscription's URL."""

    def __init__(
        self,
        allow_hosts: frozenset[str],
        *,
        timeout_seconds: float = 10.0,
        resolver: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
        unix_time: Callable[[], float] = time.time,
    ) -> None:
        self._allow = allow_hosts
        self._resolver = resolver
        self._unix_time = unix_time
        self._client = httpx.Client(
            timeout=timeout_seconds, follow_redirects=False, transport=transport, trust_env=False
        )

    def check_target(self, target: str) -> None:
        resolve_allowed(target, self._allow, self._resolver)

    def send(self, message: OutgoingMessage) -> None:
        parts = urlsplit(message.target)
        try:
            address = resolve_allowed(message.target, self._allow, self._resolver)
        except WebhookTargetForbidden as exc:
            raise DeliveryFailed(f"webhook_target_forbidden: {exc}") from exc
        headers = {
            "content-type": "application/json",
            "user-agent": "voxbill-webhooks",
            "voxbill-event-id": str(message.event_id),
            "voxbill-event-type": message.event_type,
        }
        if message.secret:
            headers["voxbill-signature"] = signature(
                message.secret, int(self._unix_time()), message.body
            )
        url = message.target
        extensions: dict[str, str] = {}
        if address is not None:  # connect to the checked address, not a fresh lookup
            headers["host"] = parts.netloc.rsplit("@", 1)[-1]
            literal = f"[{address}]" if ":" in address else address
            netloc = literal if parts.port is None else f"{literal}:{parts.port}"
            url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
            if parts.scheme == "https":
                extensions["sni_hostname"] = parts.hostname or ""
        try:
            # the status is all we need: the receiver's body is never read (a huge one
            # cannot fill the worker's memory)
            with self._client.stream(
                "POST", url, content=message.body, headers=headers, extensions=extensions
            ) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= status < 300:
            raise DeliveryFailed(f"HTTP {status}")

    def close(self) -> None:
        self._client.close()
