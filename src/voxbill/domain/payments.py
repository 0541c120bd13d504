"""Online top-ups: a payment, what a provider tells us about it, and the top-up limits.

A :class:`Payment` is created ``pending`` when a checkout starts (before the provider is
asked for its session, so the limits count it at once), and changes state only through
the provider's signed events: ``succeeded`` (credited once, through the ledger),
``failed`` or ``expired`` (nothing credited), then possibly ``partially_refunded``,
``refunded`` or ``disputed`` (the refunded or disputed amount reversed through the
ledger, never an edit). Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from voxbill.domain.access import Principal, require_write
from voxbill.domain.accounts import Account, AccountKind, Limits
from voxbill.domain.errors import Forbidden, InvalidInput, InvalidMoney, Refused, VoxbillError
from voxbill.domain.money import ZERO, canonical, currency_places


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


#: What the daily and monthly limits count (pending ones too: two checkouts started at
#: once cannot both pass a limit that only one of them fits; see ``docs/payments.md``).
COUNTED_STATUSES = frozenset(
    {PaymentStatus.PENDING, PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED}
)


@dataclass(frozen=True, slots=True)
class Payment:
    """One online top-up. ``id`` is the public ``payment_id``; ``reference`` the
    provider's checkout (Stripe: the Checkout Session id), ``intent`` its payment (Stripe:
    the PaymentIntent id, known once paid); ``credit_transaction_id`` the ledger top-up;
    ``reversed_amount`` what refunds and disputes took back (each a ledger transaction
    whose reference is ``payment:<id>``)."""

    id: str
    account_id: int
    provider: str
    amount: Decimal
    currency: str
    status: PaymentStatus
    created_at: datetime
    updated_at: datetime
    reference: str | None = None
    intent: str | None = None
    url: str | None = None
    credit_transaction_id: int | None = None
    reversed_amount: Decimal = ZERO
    failure: str | None = None
    idempotency_scope: str | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None

    @property
    def ledger_reference(self) -> str:
        return f"payment:{self.id}"


class PaymentEventKind(StrEnum):
    """What a provider's event means for a payment, whatever the provider."""

    SUCCEEDED = "succeeded"  # paid: credit once
    FAILED = "failed"  # the payment attempt failed
    EXPIRED = "expired"  # the checkout was abandoned
    REFUNDED = "refunded"  # ``amount``: refunded so far in all (cumulative)
    DISPUTED = "disputed"  # ``amount``: the disputed amount
    IGNORED = "ignored"  # an event type voxbill does not act on


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A provider's verified event, provider-neutral. ``payment_id`` when the provider
    echoes ours back; else ``reference`` or ``intent`` find the payment."""

    provider: str
    event_id: str
    kind: PaymentEventKind
    type: str
    payment_id: str | None = None
    reference: str | None = None
    intent: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    detail: str | None = None
    #: the provider's customer and payment method, when the payment saved them
    customer: str | None = None
    method: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """What a provider needs to open a hosted checkout for one payment."""

    payment_id: str
    account_id: int
    account_name: str
    amount: Decimal
    currency: str
    success_url: str
    cancel_url: str
    expires_at: datetime
    #: keep the card for auto-recharge (the account has one set up)
    save_method: bool = False


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    reference: str
    url: str


@dataclass(frozen=True, slots=True)
class AutoRecharge:
    """Charge the account's saved card ``amount`` when its balance is under ``below``,
    at most once per crossing: ``armed`` is cleared by the charge and set again once the
    balance is seen at or above ``below``. ``customer``/``method``: the provider's saved
    payment method (from a checkout paid after auto-recharge was set up)."""

    account_id: int
    below: Decimal
    amount: Decimal
    provider: str = "stripe"
    armed: bool = True
    customer: str | None = None
    method: str | None = None


@dataclass(frozen=True, slots=True)
class SavedCharge:
    """An off-session charge of a saved payment method for one payment."""

    payment_id: str
    account_id: int
    amount: Decimal
    currency: str
    customer: str
    method: str


# -- errors ----------------------------------------------------------------------------


class TopUpLimitExceeded(Refused):
    """A top-up outside the account's limits; the code names the limit."""

    code = "topup_limit"


class InvalidSignature(VoxbillError):
    """A provider's webhook whose signature or timestamp does not verify."""

    code = "invalid_signature"


class PaymentsNotConfigured(VoxbillError):
    code = "payments_not_configured"


class PaymentProviderError(VoxbillError):
    """The provider refused or could not be reached; nothing was charged."""

    code = "payment_provider_error"


class PaymentNotYetCredited(VoxbillError):
    """A refund or dispute of a payment not credited yet (its success event is late):
    refused so that the provider sends it again after the credit, never dropped."""

    code = "payment_not_yet_credited"


class PaymentMismatch(VoxbillError):
    """A provider event whose amount or currency is not the payment's: not credited."""

    code = "payment_mismatch"


# -- rules -----------------------------------------------------------------------------


def check_checkout(principal: Principal, account: Account) -> None:
    """Who may start a top-up of ``account``: its own key or any ancestor's (a reseller
    paying into a customer's balance), never a support key nor under an inactive chain;
    operator roots and vendors have no top-ups (their money does not come from cards)."""
    require_write(principal)
    if account.kind in (AccountKind.OPERATOR, AccountKind.VENDOR):
        raise Forbidden(f"a {account.kind} account is not topped up online")


def checkout_amount(amount: Decimal, currency: str) -> Decimal:
    """A positive amount in the currency's minor units (no fraction of a cent)."""
    if amount <= ZERO:
        raise InvalidInput("amount: a top-up must be positive")
    places = currency_places(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise InvalidMoney(f"amount: {currency} has {places} decimal places")
    return amount


def check_limits(
    limits: Limits, amount: Decimal, currency: str, today: Decimal, month: Decimal
) -> None:
    """Refuse a top-up outside the limits; ``today`` and ``month`` are what the day and
    month (the account's) already count (:data:`COUNTED_STATUSES`)."""

    def refuse(code: str, text: str, limit: Decimal) -> TopUpLimitExceeded:
        return TopUpLimitExceeded(f"{text} ({canonical(limit)} {currency})", code=code)

    if limits.topup_min is not None and amount < limits.topup_min:
        raise refuse("topup_below_min", "the top-up is below the minimum", limits.topup_min)
    if limits.topup_max is not None and amount > limits.topup_max:
        raise refuse("topup_above_max", "the top-up is above the maximum", limits.topup_max)
    daily = limits.topup_daily_max
    if daily is not None and today + amount > daily:
        left = max(daily - today, ZERO)
        raise refuse("topup_daily_max", f"the daily top-up limit leaves {canonical(left)}", daily)
    monthly = limits.topup_monthly_max
    if monthly is not None and month + amount > monthly:
        left = max(monthly - month, ZERO)
        raise refuse(
            "topup_monthly_max", f"the monthly top-up limit leaves {canonical(left)}", monthly
        )


def period_starts(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The start of today and of this month in ``timezone``, as aware instants."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    day = datetime.combine(local.date(), time(0), tzinfo=zone)
    month = datetime.combine(date(local.year, local.month, 1), time(0), tzinfo=zone)
    return day, month


def minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in the currency's smallest unit (what card providers take)."""
    return int(amount.scaleb(currency_places(currency)))


def from_minor_units(value: int, currency: str) -> Decimal:
    return Decimal(value).scaleb(-currency_places(currency)) + 0
