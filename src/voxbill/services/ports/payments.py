"""Payments as the payments service sees storage, and the payment providers.

Protocols only: ``voxbill.storage`` implements the repository and the provider adapters
(Stripe: ``voxbill.gateways.stripe``) implement :class:`PaymentProvider`; ``bootstrap``
wires both in."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from voxbill.domain.payments import (
    AutoRecharge,
    CheckoutRequest,
    CheckoutSession,
    Payment,
    PaymentEvent,
    SavedCharge,
)


class PaymentRepository(Protocol):
    def insert_payment(self, payment: Payment) -> None:
        """WriteConflict when a twin with the same idempotency key was stored first."""
        ...

    def update_payment(self, payment: Payment) -> None: ...
    def get_payment(self, payment_id: str, *, for_update: bool = False) -> Payment | None: ...
    def by_reference(
        self, provider: str, reference: str, *, for_update: bool = False
    ) -> Payment | None: ...
    def by_intent(
        self, provider: str, intent: str, *, for_update: bool = False
    ) -> Payment | None: ...
    def by_idempotency_key(self, scope: str, key: str) -> Payment | None: ...
    def counted_total(self, account_id: int, since: datetime, pending_since: datetime) -> Decimal:
        """What the limits count since ``since``: succeeded and partially refunded
        payments, and pending ones created after ``pending_since`` (see
        :data:`~voxbill.domain.payments.COUNTED_STATUSES`)."""
        ...

    def list_payments(
        self,
        *,
        account_id: int | None,
        status: str | None,
        before: str | None,
        limit: int,
    ) -> list[Payment]:
        """Newest first (by creation, then id); ``before``: a payment id to page after."""
        ...

    def auto_recharge(
        self, account_id: int, *, for_update: bool = False
    ) -> AutoRecharge | None: ...
    def save_auto_recharge(self, setting: AutoRecharge) -> None: ...
    def delete_auto_recharge(self, account_id: int) -> None: ...
    def auto_recharges(self) -> list[AutoRecharge]: ...


class PaymentProvider(Protocol):
    """One payment gateway: a hosted checkout out, verified events in. A second provider
    is one class implementing this, registered by name in ``bootstrap``."""

    @property
    def name(self) -> str: ...

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """Open a hosted checkout for ``request`` (idempotent by its payment id);
        :class:`~voxbill.domain.payments.PaymentProviderError` when it cannot."""
        ...

    def charge_saved(self, charge: SavedCharge) -> str:
        """Charge a saved payment method off-session (auto-recharge), idempotent by the
        payment id; the provider's reference of the payment (its event credits it)."""
        ...

    def parse_event(self, raw_body: bytes, signature: str | None) -> PaymentEvent:
        """The verified event; :class:`~voxbill.domain.payments.InvalidSignature` when
        the signature or its timestamp does not verify."""
        ...
