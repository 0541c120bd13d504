"""Stripe without the network: an HTTP client that answers Checkout Session creation
itself, and webhook events signed with the library's own scheme."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import stripe

WEBHOOK_SECRET = "whsec_test_voxbill"


class FakeStripeHttp(stripe.HTTPClient):
    """Answers ``POST /v1/checkout/sessions`` like Stripe (or with ``fail_with``)."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []
        self.fail_with: tuple[int, str] | None = None
        self.decline = False
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        form = urllib.parse.parse_qs(
            post_data.decode() if isinstance(post_data, bytes) else post_data or ""
        )
        with self._lock:
            self.calls.append(
                {"method": method, "url": url, "headers": dict(headers or {}), "form": form}
            )
            number = len(self.calls)
        if url.endswith("/v1/payment_intents"):
            if self.decline:
                body = {
                    "error": {
                        "type": "card_error",
                        "code": "card_declined",
                        "message": "Your card was declined.",
                    }
                }
                return json.dumps(body), 402, {"request-id": "req_declined"}
            intent = {
                "id": f"pi_recharge_{number}",
                "object": "payment_intent",
                "status": "succeeded",
            }
            return json.dumps(intent), 200, {"request-id": f"req_{number}"}
        if self.fail_with is not None:
            status, message = self.fail_with
            body = {"error": {"type": "invalid_request_error", "message": message}}
            return json.dumps(body), status, {"request-id": "req_fake"}
        session = {
            "id": f"cs_test_{number}",
            "object": "checkout.session",
            "url": f"https://checkout.stripe.com/c/pay/cs_test_{number}",
            "client_reference_id": form.get("client_reference_id", [None])[0],
            "payment_status": "unpaid",
            "status": "open",
        }
        return json.dumps(session), 200, {"request-id": f"req_{number}"}

    def close(self) -> None:
        pass


def signed(event: dict[str, Any], *, at: int | None = None, secret: str = WEBHOOK_SECRET):
    """The body and ``Stripe-Signature`` header Stripe would send for ``event``."""
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=at if at is not None else int(time.time())
    )
    return body, header


def session_event(
    kind: str,
    *,
    payment_id: str,
    session_id: str,
    amount: int,
    currency: str = "usd",
    paid: bool = True,
    intent: str = "pi_test_1",
    event_id: str = "evt_1",
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "client_reference_id": payment_id,
                "metadata": {"payment_id": payment_id},
                "payment_status": "paid" if paid else "unpaid",
                "payment_intent": intent,
                "amount_total": amount,
                "currency": currency,
            }
        },
    }


def charge_event(
    kind: str, *, intent: str, amount: int, currency: str = "usd", event_id: str = "evt_c"
) -> dict[str, Any]:
    """``charge.refunded`` (``amount``: refunded in all) or ``charge.dispute.created``."""
    field = "amount_refunded" if kind == "charge.refunded" else "amount"
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "data": {
            "object": {
                "id": "ch_test_1" if kind == "charge.refunded" else "dp_test_1",
                "payment_intent": intent,
                field: amount,
                "currency": currency,
            }
        },
    }
