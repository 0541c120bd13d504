"""Stripe as a :class:`~voxbill.services.ports.payments.PaymentProvider`: a hosted
Checkout Session per top-up, and Stripe's signed webhook events verified with the
library's own scheme (``Stripe-Signature: t=…,v1=…``, HMAC-SHA256 over ``"<t>.<body>"``
with the endpoint's secret, within a timestamp tolerance) and translated into
provider-neutral :class:`~voxbill.domain.payments.PaymentEvent` values.

The HTTP client is injectable (``http_client``): tests answer Stripe's API themselves,
so that nothing reaches the network.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import stripe

from voxbill.domain.errors import InvalidInput
from voxbill.domain.payments import (
    CheckoutRequest,
    CheckoutSession,
    InvalidSignature,
    PaymentEvent,
    PaymentEventKind,
    PaymentProviderError,
    SavedCharge,
    from_minor_units,
    minor_units,
)

#: Stripe's event types and what they mean for a payment; any other is ignored
_SESSION_EVENTS = {
    "checkout.session.completed": PaymentEventKind.SUCCEEDED,  # when payment_status is paid
    "checkout.session.async_payment_succeeded": PaymentEventKind.SUCCEEDED,
    "checkout.session.async_payment_failed": PaymentEventKind.FAILED,
    "checkout.session.expired": PaymentEventKind.EXPIRED,
}
_INTENT_FAILED = "payment_intent.payment_failed"
_INTENT_SUCCEEDED = "payment_intent.succeeded"  # auto-recharge; a checkout's saved card
_CHARGE_REFUNDED = "charge.refunded"
_DISPUTE_CREATED = "charge.dispute.created"


class StripeProvider:
    """Stripe Checkout (``mode=payment``) for one account's top-up."""

    name = "stripe"

    def __init__(
        self,
        secret_key: str | None,
        webhook_secret: str | None,
        *,
        tolerance_seconds: int = stripe.Webhook.DEFAULT_TOLERANCE,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        self._client = (
            stripe.StripeClient(secret_key, http_client=http_client, max_network_retries=2)
            if secret_key
            else None
        )
        self._webhook_secret = webhook_secret
        self._tolerance = tolerance_seconds

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        if self._client is None:
            raise PaymentProviderError("VOXBILL_STRIPE_SECRET_KEY is not set")
        metadata = {"payment_id": request.payment_id, "account_id": str(request.account_id)}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": minor_units(request.amount, request.currency),
                        "product_data": {"name": f"Balance top-up, {request.account_name}"},
                    },
                }
            ],
            "client_reference_id": request.payment_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "expires_at": int(request.expires_at.timestamp()),
        }
        if request.save_method:  # keep the card for auto-recharge
            params["customer_creation"] = "always"
            params["payment_intent_data"]["setup_future_usage"] = "off_session"
        try:
            session = self._client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"voxbill-checkout-{request.payment_id}"},
            )
        except stripe.StripeError as exc:
            said = exc.user_message or type(exc).__name__
            raise PaymentProviderError(f"Stripe did not open the checkout: {said}") from exc
        if not session.url:
            raise PaymentProviderError("Stripe answered a checkout session without a URL")
        return CheckoutSession(reference=session.id, url=session.url)

    def charge_saved(self, charge: SavedCharge) -> str:
        if self._client is None:
            raise PaymentProviderError("VOXBILL_STRIPE_SECRET_KEY is not set")
        metadata = {"payment_id": charge.payment_id, "account_id": str(charge.account_id)}
        params: dict[str, Any] = {
            "amount": minor_units(charge.amount, charge.currency),
            "currency": charge.currency.lower(),
            "customer": charge.customer,
            "payment_method": charge.method,
            "off_session": True,
            "confirm": True,
            "metadata": metadata,
        }
        try:
            intent = self._client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"voxbill-recharge-{charge.payment_id}"},
            )
        except stripe.StripeError as exc:
            said = exc.user_message or type(exc).__name__
            raise PaymentProviderError(f"Stripe did not charge the saved card: {said}") from exc
        return str(intent.id)

    def parse_event(self, raw_body: bytes, signature: str | None) -> PaymentEvent:
        if not self._webhook_secret:
            raise InvalidSignature("VOXBILL_STRIPE_WEBHOOK_SECRET is not set: events refused")
        try:
            stripe.Webhook.construct_event(
                raw_body, signature, self._webhook_secret, tolerance=self._tolerance
            )
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignature(f"Stripe-Signature does not verify: {exc}") from None
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("the event is not Stripe's JSON") from None
        try:
            return translate(json.loads(raw_body))
        except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError):
            raise InvalidInput("a signed event voxbill cannot read") from None


def translate(event: dict[str, Any]) -> PaymentEvent:
    """A verified Stripe event as a provider-neutral one."""
    kind_of = str(event.get("type", ""))
    event_id = str(event.get("id", ""))
    obj = (event.get("data") or {}).get("object") or {}
    metadata = obj.get("metadata") or {}
    currency = str(obj["currency"]).upper() if obj.get("currency") else None

    def money(field: str) -> Decimal | None:
        value = obj.get(field)
        return None if value is None or currency is None else from_minor_units(int(value), currency)

    def made(kind: PaymentEventKind, **fields: Any) -> PaymentEvent:
        return PaymentEvent(
            provider="stripe",
            event_id=event_id,
            kind=kind,
            type=kind_of,
            currency=currency,
            **fields,
        )

    if kind_of in _SESSION_EVENTS:
        kind = _SESSION_EVENTS[kind_of]
        if kind_of == "checkout.session.completed" and obj.get("payment_status") != "paid":
            kind = PaymentEventKind.IGNORED  # an async method: its own event follows
        return made(
            kind,
            payment_id=obj.get("client_reference_id") or metadata.get("payment_id"),
            reference=obj.get("id"),
            intent=_id(obj.get("payment_intent")),
            amount=money("amount_total"),
            detail=None if kind is not PaymentEventKind.FAILED else "the payment failed",
        )
    if kind_of == _INTENT_FAILED:
        error = obj.get("last_payment_error") or {}
        return made(
            PaymentEventKind.FAILED,
            payment_id=metadata.get("payment_id"),
            intent=obj.get("id"),
            amount=money("amount"),
            detail=error.get("message") or error.get("code") or "the payment failed",
        )
    if kind_of == _INTENT_SUCCEEDED:
        return made(
            PaymentEventKind.SUCCEEDED,
            payment_id=metadata.get("payment_id"),
            intent=obj.get("id"),
            amount=money("amount_received") or money("amount"),
            customer=_id(obj.get("customer")),
            method=_id(obj.get("payment_method")),
        )
    if kind_of == _CHARGE_REFUNDED:
        return made(
            PaymentEventKind.REFUNDED,
            payment_id=metadata.get("payment_id"),
            intent=_id(obj.get("payment_intent")),
            amount=money("amount_refunded"),
        )
    if kind_of == _DISPUTE_CREATED:
        return made(
            PaymentEventKind.DISPUTED,
            payment_id=metadata.get("payment_id"),
            intent=_id(obj.get("payment_intent")),
            amount=money("amount"),
            detail=obj.get("reason"),
        )
    return made(PaymentEventKind.IGNORED)


def _id(value: Any) -> str | None:
    """An expandable field: an id, or the object with its id."""
    if isinstance(value, dict):
        return str(value.get("id")) if value.get("id") else None
    return str(value) if value else None
