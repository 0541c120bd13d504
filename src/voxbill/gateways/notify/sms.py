"""SMS through an HTTP gateway (``VOXBILL_SMS_GATEWAY_URL``): a POST of
``{"to", "from", "text"}`` as JSON; any 2xx is sent. No vendor's API is assumed: a
small relay in front of the vendor translates, if needed."""

from __future__ import annotations

import httpx

from voxbill.services.notify.channels import DeliveryFailed, OutgoingMessage


class SmsGatewaySender:
    def __init__(
        self,
        gateway_url: str | None,
        sender: str,
        *,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = gateway_url
        self._from = sender
        self._client = httpx.Client(
            timeout=timeout_seconds, follow_redirects=False, transport=transport, trust_env=False
        )

    def check_target(self, target: str) -> None:
        return None

    def send(self, message: OutgoingMessage) -> None:
        if not self._url:
            raise DeliveryFailed("no SMS gateway configured (VOXBILL_SMS_GATEWAY_URL)")
        body = {
            "to": message.target,
            "from": message.sender_name or self._from,
            "text": message.text,
        }
        try:
            response = self._client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"SMS gateway answered HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()
