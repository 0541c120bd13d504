"""An account's settings: the fields ``PATCH /api/v1/accounts/{id}`` takes, each an input
only when the API's rule (``access.check_patch``) lets the visitor change it, validated
by the API's own body (``AccountUpdate``) and applied by the same service call (one
transaction: all the form's changes or none)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError

from voxbill.api.account_schemas import AccountUpdate
from voxbill.api.deps import container_of, in_thread
from voxbill.domain import access
from voxbill.domain.accounts import PARTNER_KINDS, Account, AccountKind, Billing, CutoffMode
from voxbill.domain.errors import InvalidInput
from voxbill.portal.pages.common import can, page_router
from voxbill.portal.web import PREFIX, Visitor, Writer, render

router = page_router()
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    #: text, int, money, bool or a choice (its values)
    kind: str
    choices: tuple[str, ...] = ()
    #: the API refuses an empty value (``cannot be null``)
    required: bool = False


_BOOL = ("true", "false")
FIELDS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    (
        "Account",
        (
            Field("name", "Name", "text", required=True),
            Field("timezone", "Timezone (its spend caps' hours and days)", "text", required=True),
            Field("rate_plan", "Rate plan (empty: inherited)", "text"),
            Field("sms_plan", "SMS plan (empty: inherited)", "text"),
            Field("tax_profile", "Tax profile", "text"),
        ),
    ),
    (
        "Balance",
        (
            Field("billing", "Billing", "choice", tuple(b.value for b in Billing), True),
            Field("credit_limit", "Credit limit (postpaid)", "money", required=True),
            Field("alert_balance", "Low-balance alert at", "money"),
            Field("block_balance", "Block at balance", "money", required=True),
            Field("shared_balance", "Shares its parent's balance", "bool", _BOOL, True),
            Field(
                "cutoff_mode", "Partner cutoff", "choice", tuple(c.value for c in CutoffMode), True
            ),
        ),
    ),
    (
        "Calls",
        (
            Field("max_call_duration", "Longest call (seconds)", "int"),
            Field("max_concurrent_calls", "Concurrent calls", "int"),
            Field("low_balance_concurrent_calls", "Concurrent calls on a low balance", "int"),
            Field("max_call_cost", "Most a call may cost", "money"),
            Field("message_rate_limit", "Messages per minute", "int"),
            Field(
                "shared_balance_call_cap",
                "Operator default call cap on shared balances (seconds)",
                "int",
            ),
        ),
    ),
    (
        "Fraud guard",
        (
            Field("hourly_spend_cap", "Spend cap per hour", "money"),
            Field("daily_spend_cap", "Spend cap per day", "money"),
            Field("high_risk_allowed", "May call high-risk destinations", "bool", _BOOL, True),
            Field("high_risk_daily_cap", "High-risk spend cap per day", "money"),
        ),
    ),
    (
        "Online top-ups",
        (
            Field("topup_min", "Smallest payment", "money"),
            Field("topup_max", "Largest payment", "money"),
            Field("topup_daily_max", "Most per day", "money"),
            Field("topup_monthly_max", "Most per month", "money"),
        ),
    ),
    ("Partner", (Field("partner_id", "Inbound side (account id)", "int"),)),
)
_BY_NAME = {f.name: f for _, group in FIELDS for f in group}


def _applies(field: Field, account: Account) -> bool:
    """Fields that mean something on this account (the service refuses the others)."""
    if field.name == "shared_balance_call_cap":
        return account.parent_id is None
    if field.name == "partner_id":
        return account.kind is AccountKind.VENDOR
    if field.name == "cutoff_mode":
        return account.kind in PARTNER_KINDS
    return True


def value_of(account: Account, name: str) -> Any:
    for part in (account.balance, account.limits, account.plans):
        if hasattr(part, name):
            return getattr(part, name)
    return getattr(account, name)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


def validated(model: type[M], data: dict[str, Any]) -> M:
    """A form's values through the API's own body: its refusals, as the API words them."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "form"
        raise InvalidInput(f"{where}: {first.get('msg')}") from None


def _form(account: Account, editable: set[str]) -> list[dict[str, Any]]:
    groups = []
    for title, group in FIELDS:
        rows = [
            {"field": f, "value": _shown(value_of(account, f.name)), "edit": f.name in editable}
            for f in group
            if _applies(f, account)
        ]
        if rows:
            groups.append({"title": title, "rows": rows})
    return groups


@router.get("/accounts/{account_id}/settings", response_class=HTMLResponse)
def settings_page(request: Request, account_id: int, visitor: Visitor) -> Response:
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    editable = {
        name for name in _BY_NAME if can(partial(access.check_patch, principal, account, {name}))
    }
    context = {"account": account, "groups": _form(account, editable), "editable": editable}
    return render(request, "settings.html", context, visitor=visitor)


@router.post("/accounts/{account_id}/settings")
async def save_settings(request: Request, account_id: int, visitor: Writer) -> Response:
    """The form's fields (only those it rendered as inputs) as one PATCH; another
    subtree's account is not found before the form is read."""
    container = container_of(request)
    await in_thread(lambda: container.accounts.visible(visitor.principal, account_id))
    form = await request.form()
    data: dict[str, Any] = {}
    for name in _BY_NAME:
        if name not in form:
            continue
        raw = form.get(name)
        text = raw.strip() if isinstance(raw, str) else ""
        data[name] = text or None
    if not data:
        raise InvalidInput("nothing to change")
    changes = validated(AccountUpdate, data).changes()

    def save() -> None:
        container.accounts.patch(visitor.principal, account_id, changes)

    await in_thread(save)
    return RedirectResponse(
        f"{PREFIX}/accounts/{account_id}/settings?done=settings", status_code=303
    )
