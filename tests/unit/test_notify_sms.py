"""The SMS channel against a real HTTP gateway: a JSON POST of {"to", "from", "text"};
anything but a 2xx is a failed attempt."""

from __future__ import annotations

import json

import pytest

from support.notify_world import http_receiver
from voxbill.gateways.notify.sms import SmsGatewaySender
from voxbill.services.notify.channels import DeliveryFailed, OutgoingMessage


def _message(sender_name: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        7, "balance.low", "+447911123456", "s", "Balance low.", b"{}", None, sender_name
    )


def test_posts_to_from_text_and_fails_on_an_error_status() -> None:
    with http_receiver(lambda n: 202 if n < 3 else 500) as gateway:
        sender = SmsGatewaySender(gateway.url, "Acme")
        sender.send(_message())
        sender.send(_message("ResellerA"))
        with pytest.raises(DeliveryFailed, match="HTTP 500"):
            sender.send(_message())
        sender.close()
    bodies = [json.loads(r.body) for r in gateway.requests]
    assert bodies[0] == {"to": "+447911123456", "from": "Acme", "text": "Balance low."}
    assert bodies[1]["from"] == "ResellerA"
    assert gateway.requests[0].headers["content-type"] == "application/json"


def test_no_gateway_configured_is_a_failed_attempt() -> None:
    with pytest.raises(DeliveryFailed, match="VOXBILL_SMS_GATEWAY_URL"):
        SmsGatewaySender(None, "Acme").send(_message())
