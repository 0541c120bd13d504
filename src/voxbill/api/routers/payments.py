"""Online top-ups: a checkout per top-up, the providers' webhooks, the payments list.

Who may start a checkout: the account's own key or any ancestor's (not support, not
under a blocked chain); operator roots and vendors are not topped up online. The
webhook carries no API key: the provider's signature is its authentication (a public
path of the request guard).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from voxbill.api.account_schemas import MAX_ID
from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep, container_of, in_thread
from voxbill.api.idempotency import IdempotencyKey, checked, fingerprint
from voxbill.api.payment_schemas import (
    AutoRechargeRead,
    AutoRechargeSet,
    CheckoutCreate,
    CheckoutRead,
    PaymentPage,
    PaymentRead,
    WebhookRead,
)
from voxbill.api.problems import responses
from voxbill.domain.payments import PaymentStatus
from voxbill.services.payments.recharge import AutoRecharges

router = APIRouter(tags=["payments"])

AccountPath = Annotated[int, Path(ge=1, le=MAX_ID, description="account id")]
STRIPE_WEBHOOK = "/payments/stripe/webhook"


@router.post(
    "/accounts/{account_id}/payments/checkout",
    status_code=201,
    response_model=CheckoutRead,
    responses=responses(401, 403, 404, 409, 422, 502, 503),
)
def checkout(
    account_id: AccountPath,
    body: CheckoutCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
) -> CheckoutRead:
    """Start an online top-up: a pending payment and the provider's hosted checkout
    URL; the balance is credited when the provider's signed event says it was paid."""
    key = checked(idempotency_key)
    started = container.payments.checkout(
        principal,
        account_id,
        body.amount,
        idempotency_key=key,
        fingerprint=fingerprint(request, body) if key is not None else None,
    )
    if started.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return CheckoutRead.of(started.payment)


@router.get(
    "/accounts/{account_id}/payments",
    response_model=PaymentPage,
    responses=responses(401, 404, 422),
)
def payments(
    account_id: AccountPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    status: PaymentStatus | None = None,
    before: Annotated[str | None, Query(max_length=40, pattern=r"^pay_[0-9a-f]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PaymentPage:
    """The account's online top-ups, newest first, with their status."""
    found = container.payments.payments_of(
        principal,
        account_id,
        status=None if status is None else status.value,
        before=before,
        limit=limit,
    )
    next_before = found[-1].id if len(found) == limit else None
    return PaymentPage(items=[PaymentRead.of(p) for p in found], next_before=next_before)


@router.post(STRIPE_WEBHOOK, response_model=WebhookRead, responses=responses(400, 403, 422, 503))
async def stripe_webhook(request: Request) -> WebhookRead:
    """Stripe's events (``Stripe-Signature``): a paid checkout credits the balance once,
    a refund or dispute reverses it; a bad signature or a stale timestamp is 400 and
    changes nothing; other event types are acknowledged and ignored."""
    container = container_of(request)
    raw = await request.body()
    signature = request.headers.get("stripe-signature")
    outcome = await in_thread(lambda: container.payments.handle_webhook("stripe", raw, signature))
    return WebhookRead(action=outcome.action, payment_id=outcome.payment_id)


AUTO_RECHARGE = "/accounts/{account_id}/payments/auto-recharge"


@router.get(AUTO_RECHARGE, response_model=AutoRechargeRead, responses=responses(401, 404, 422))
def auto_recharge(
    account_id: AccountPath, principal: CurrentPrincipal, container: ContainerDep
) -> AutoRechargeRead:
    """The account's auto-recharge (404 when it has none)."""
    account = container.accounts.visible(principal, account_id)
    found = AutoRecharges(container.payments).get(principal, account.id)
    return AutoRechargeRead.of(found, account.currency)


@router.put(AUTO_RECHARGE, response_model=AutoRechargeRead, responses=responses(401, 403, 404, 422))
def set_auto_recharge(
    account_id: AccountPath,
    body: AutoRechargeSet,
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> AutoRechargeRead:
    """Charge the account's saved card ``amount`` when its balance is under ``below``,
    at most once per crossing; the card is saved by the next paid checkout."""
    account = container.accounts.visible(principal, account_id)
    setting = AutoRecharges(container.payments).set(principal, account.id, body.below, body.amount)
    return AutoRechargeRead.of(setting, account.currency)


@router.delete(AUTO_RECHARGE, status_code=204, responses=responses(401, 403, 404, 422))
def clear_auto_recharge(
    account_id: AccountPath, principal: CurrentPrincipal, container: ContainerDep
) -> Response:
    """Stop auto-recharging the account (the saved card is forgotten)."""
    AutoRecharges(container.payments).clear(principal, account_id)
    return Response(status_code=204)
