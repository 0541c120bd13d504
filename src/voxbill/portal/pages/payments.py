"""An account's online top-ups: start a Stripe Checkout (the browser is sent to its
page), the payments list, the auto-recharge setting and the top-up limits a parent
sets. The same services and rules as ``/api/v1/accounts/{id}/payments...`` and the
account's ``topup_*`` fields (docs/payments.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.deps import container_of
from voxbill.domain import access
from voxbill.domain.errors import NotFound
from voxbill.domain.payments import PaymentsNotConfigured, check_checkout
from voxbill.portal.pages.common import (
    PAGE,
    FormText,
    OptionalText,
    amount_of,
    can,
    page_router,
    replay,
)
from voxbill.portal.web import PREFIX, Visitor, Writer, error_page, new_form_key, render
from voxbill.services.payments.recharge import AutoRecharges

router = page_router()

#: the account fields of the top-up limits form
TOPUP_LIMITS = ("topup_min", "topup_max", "topup_daily_max", "topup_monthly_max")


def _to_payments(account_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/accounts/{account_id}/payments?done={done}", status_code=303)


@router.get("/accounts/{account_id}/payments", response_class=HTMLResponse)
def payments(
    request: Request,
    account_id: int,
    visitor: Visitor,
    before: Annotated[str | None, Query(max_length=40, pattern=r"^pay_[0-9a-f]+$")] = None,
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    found = container.payments.payments_of(principal, account.id, before=before, limit=PAGE)
    try:
        recharge = AutoRecharges(container.payments).get(principal, account.id)
    except NotFound:
        recharge = None
    pays = can(lambda: check_checkout(principal, account))
    context = {
        "account": account,
        "payments": found,
        "next_before": found[-1].id if len(found) == PAGE else None,
        "recharge": recharge,
        "can": {
            "checkout": pays and container.payments.configured(),
            "recharge": pays,
            "limits": can(lambda: access.check_patch(principal, account, set(TOPUP_LIMITS))),
        },
        "limits": {name: getattr(account.limits, name) for name in TOPUP_LIMITS},
        "form_key": new_form_key(),
    }
    return render(request, "payments.html", context, visitor=visitor)


@router.post("/accounts/{account_id}/payments/checkout")
def checkout(
    request: Request,
    account_id: int,
    visitor: Writer,
    amount: FormText,
    form_key: OptionalText = None,
) -> Response:
    """A pending payment and Stripe's hosted checkout: the browser goes there (303);
    the balance is credited when Stripe's signed event says it was paid."""
    container = container_of(request)
    value = amount_of(amount)
    again = replay(visitor, form_key, "checkout", account_id, value)
    try:
        started = container.payments.checkout(
            visitor.principal,
            account_id,
            value,
            idempotency_key=again["idempotency_key"],
            fingerprint=again["fingerprint"],
        )
    except PaymentsNotConfigured as exc:  # named by its code, as the API answers it
        return error_page(request, 403, f"{exc.code}: {exc.message}", visitor)
    url = started.payment.url
    if not url:  # a twin post still opening its checkout: its page shows it shortly
        return _to_payments(account_id, "checkout-started")
    return RedirectResponse(url, status_code=303)


@router.post("/accounts/{account_id}/payments/auto-recharge")
def set_auto_recharge(
    request: Request, account_id: int, visitor: Writer, below: FormText, amount: FormText
) -> Response:
    container = container_of(request)
    account = container.accounts.visible(visitor.principal, account_id)
    threshold, value = amount_of(below, "below"), amount_of(amount)
    AutoRecharges(container.payments).set(visitor.principal, account.id, threshold, value)
    return _to_payments(account.id, "auto-recharge-set")


@router.post("/accounts/{account_id}/payments/auto-recharge/delete")
def clear_auto_recharge(request: Request, account_id: int, visitor: Writer) -> Response:
    container = container_of(request)
    AutoRecharges(container.payments).clear(visitor.principal, account_id)
    return _to_payments(account_id, "auto-recharge-stopped")


@router.post("/accounts/{account_id}/payments/limits")
def set_limits(
    request: Request,
    account_id: int,
    visitor: Writer,
    topup_min: OptionalText = None,
    topup_max: OptionalText = None,
    topup_daily_max: OptionalText = None,
    topup_monthly_max: OptionalText = None,
) -> Response:
    """The account's top-up limits (empty: none), as ``PATCH /api/v1/accounts/{id}``."""
    typed = {
        "topup_min": topup_min,
        "topup_max": topup_max,
        "topup_daily_max": topup_daily_max,
        "topup_monthly_max": topup_monthly_max,
    }
    changes = {
        name: amount_of(text, name) if text and text.strip() else None
        for name, text in typed.items()
    }
    container_of(request).accounts.patch(visitor.principal, account_id, changes)
    return _to_payments(account_id, "limits-saved")
