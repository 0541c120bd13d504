"""The portal's pages: sign-in, home, the account tree, an account, rates, CDRs.

Every page acts as the visitor's principal through the same services and rules as the
API: what is outside its subtree is a 404, what its role may not write is a 403, and a
write control is rendered only when the rule that guards its route would let it pass."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.deps import container_of
from voxbill.api.idempotency import scope
from voxbill.api.routers.cdrs import CSV_COLUMNS, _csv_row
from voxbill.api.schemas import storable
from voxbill.bootstrap import Container
from voxbill.domain import access
from voxbill.domain.access import CREATABLE_KINDS, ISSUABLE_ROLES, PortalSession, Principal, Role
from voxbill.domain.accounts import Account, AccountStatus
from voxbill.domain.csv_safe import csv_document
from voxbill.domain.errors import Forbidden, InvalidInput, NotFound, SignInThrottled, Unauthorized
from voxbill.portal.web import (
    COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    PortalRoute,
    Visitor,
    Writer,
    error_page,
    new_form_key,
    render,
    set_session_cookie,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

PAGE = 50
FormText = Annotated[str, Form()]
OptionalText = Annotated[str | None, Form()]


def _source(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _can(check: Callable[[], object]) -> bool:
    """Whether a rule would let a write pass (decides which controls are rendered)."""
    try:
        check()
    except Forbidden:
        return False
    return True


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput("amount: a decimal number is required") from None
    if not value.is_finite():
        raise InvalidInput("amount: a decimal number is required")
    try:
        return storable(value)  # the API's rule: what storage holds, else 422, never a 500
    except ValueError as exc:
        raise InvalidInput(f"amount: {exc}") from None


def _when(text: str | None, field: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field}: a date (YYYY-MM-DD) or ISO 8601 time is required") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- sign-in ---------------------------------------------------------------------------


def _login_page(
    request: Request, *, message: str | None = None, status_code: int = 200
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    page = render(
        request, "login.html", {"login_csrf": token, "message": message}, status_code=status_code
    )
    page.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="lax", path=PREFIX)
    return page


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    csrf_token: OptionalText = None,
    email: OptionalText = None,
    password: OptionalText = None,
    card: OptionalText = None,
    pin: OptionalText = None,
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or not csrf_token or not secrets.compare_digest(expected, csrf_token):
        return error_page(request, 403, "The sign-in form was stale: reload it and try again.")
    portal = container_of(request).portal
    try:
        if card:
            signed = portal.sign_in_card(card, pin or "", _source(request))
        else:
            signed = portal.sign_in(email or "", password or "", _source(request))
    except SignInThrottled:
        raise
    except Unauthorized as exc:
        return _login_page(request, message=exc.message, status_code=401)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    set_session_cookie(response, request, signed.token)
    return response


@router.post("/logout")
def logout(request: Request, visitor: Writer) -> Response:
    container_of(request).portal.sign_out(request.cookies.get(COOKIE))
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# -- home --------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, visitor: Visitor) -> Response:
    container = container_of(request)
    principal = visitor.principal
    balance = container.ledger.balance(principal.account_id)
    context: dict[str, Any] = {"balance": balance}
    if principal.role in (Role.ADMIN, Role.RESELLER, Role.SUPPORT):
        scope_rows = container.accounts.search(principal, name=None, after_id=None, limit=1001)
        context["in_scope"] = len(scope_rows) - 1  # not counting itself
        context["more"] = len(scope_rows) > 1000
        context["children"] = container.accounts.children(
            principal, principal.account_id, after_id=None, limit=PAGE
        )
    context["calls"] = container.charging.cdrs(principal.path, limit=10)
    return render(request, "home.html", context, visitor=visitor)


# -- accounts ------------------------------------------------------------------------------


@router.get("/accounts", response_class=HTMLResponse)
def accounts(
    request: Request,
    visitor: Visitor,
    q: Annotated[str | None, Query(max_length=200)] = None,
    after_id: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    container = container_of(request)
    found = container.accounts.search(
        visitor.principal, name=q or None, after_id=after_id, limit=PAGE + 1
    )
    rows, more = found[:PAGE], len(found) > PAGE
    context = {"rows": rows, "q": q or "", "next_after": rows[-1].id if more else None}
    name = "accounts_rows.html" if request.headers.get("HX-Request") else "accounts.html"
    return render(request, name, context, visitor=visitor)


def _controls(container: Container, principal: Principal, account: Account) -> dict[str, bool]:
    """Which write controls the account's page renders: those whose rule passes."""
    mine = container.accounts.visible(principal, principal.account_id)
    owner_ok = principal.owns(account) and principal.role not in (Role.USER, Role.SUPPORT)
    return {
        "top_up": _can(lambda: access.check_top_up(principal, account)),
        "transfer": account.parent_id == mine.id
        and _can(lambda: access.check_transfer(principal, mine, account)),
        "adjust": _can(lambda: access.check_owner_money(principal, account, "adjustment")),
        "status": owner_ok and _can(lambda: access.require_write(principal)),
        "create": any(
            _can(partial(access.check_create, principal, kind))
            for kind in CREATABLE_KINDS[principal.role]
        ),
        "users": _can(lambda: access.require_write(principal))
        and bool(ISSUABLE_ROLES[principal.role])
        and (principal.role is not Role.USER or principal.is_self(account)),
    }


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    request: Request,
    account_id: int,
    visitor: Visitor,
    before_id: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    entries = container.ledger.history(account.id, limit=20, before_id=before_id)
    context = {
        "account": account,
        "balance": container.ledger.balance(account.id),
        "entries": entries,
        "next_before": entries[-1].id if len(entries) == 20 else None,
        "children": container.accounts.children(principal, account.id, after_id=None, limit=PAGE),
        "users": container.auth.portal_users(principal, account.id),
        "can": _controls(container, principal, account),
        "kinds": sorted(CREATABLE_KINDS[principal.role]),
        "roles": sorted(ISSUABLE_ROLES[principal.role]),
        "form_key": new_form_key(),
        "Status": AccountStatus,
    }
    return render(request, "account.html", context, visitor=visitor)


def _replay(visitor: PortalSession, key: str | None, *parts: object) -> dict[str, Any]:
    """The idempotency arguments of a money form (its hidden key: a form posted twice
    moves money once; the same key with other values is refused)."""
    principal = visitor.principal
    text = "\x1f".join(str(p) for p in parts)
    return {
        "actor": f"portal:{visitor.label}@account:{principal.account_id}",
        "idempotency_scope": scope(principal),
        "idempotency_key": key or None,
        "fingerprint": hashlib.sha256(text.encode()).hexdigest() if key else None,
    }


def _back(account_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/accounts/{account_id}?done={done}", status_code=303)


@router.post("/accounts/{account_id}/top-up")
def top_up(
    request: Request,
    account_id: int,
    visitor: Writer,
    amount: FormText,
    note: OptionalText = None,
    form_key: OptionalText = None,
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    access.check_top_up(principal, account)
    value = _amount(amount)
    container.ledger.top_up(
        account.id,
        value,
        note=note or None,
        guard=container.accounts.guard(
            principal, [account.id], partial(access.check_top_up, principal)
        ),
        **_replay(visitor, form_key, "top-up", account.id, value, note),
    )
    return _back(account.id, "top-up")


@router.post("/accounts/{account_id}/transfer")
def transfer(
    request: Request,
    account_id: int,
    visitor: Writer,
    amount: FormText,
    note: OptionalText = None,
    form_key: OptionalText = None,
) -> Response:
    """Fund this account (a direct child) from the visitor's own account."""
    container = container_of(request)
    principal = visitor.principal
    target = container.accounts.visible(principal, account_id)
    source = container.accounts.visible(principal, principal.account_id)
    access.check_transfer(principal, source, target)
    value = _amount(amount)
    container.ledger.transfer(
        source.id,
        target.id,
        value,
        note=note or None,
        guard=container.accounts.guard(
            principal, [source.id, target.id], partial(access.check_transfer, principal)
        ),
        **_replay(visitor, form_key, "transfer", source.id, target.id, value, note),
    )
    return _back(target.id, "transfer")


@router.post("/accounts/{account_id}/adjust")
def adjust(
    request: Request,
    account_id: int,
    visitor: Writer,
    amount: FormText,
    reason: FormText,
    form_key: OptionalText = None,
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    access.check_owner_money(principal, account, "adjustment")
    value = _amount(amount)
    if not reason.strip():
        raise InvalidInput("reason: an adjustment needs a reason")
    container.ledger.adjust(
        account.id,
        value,
        reason.strip(),
        funded_by=access.funding_account(principal),
        guard=container.accounts.guard(
            principal,
            [account.id],
            partial(access.check_owner_money, principal, operation="adjustment"),
        ),
        **_replay(visitor, form_key, "adjust", account.id, value, reason),
    )
    return _back(account.id, "adjustment")


@router.post("/accounts/{account_id}/status")
def set_status(request: Request, account_id: int, visitor: Writer, status: FormText) -> Response:
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    access.require_write(principal)
    if status not in (AccountStatus.ACTIVE.value, AccountStatus.BLOCKED.value):
        raise InvalidInput("status: active or blocked")
    if principal.is_self(account):
        raise Forbidden("an account cannot change its own status")
    container.accounts.set_status(principal, account.id, AccountStatus(status))
    return _back(account.id, status)


@router.post("/accounts/{account_id}/children")
def create_child(
    request: Request,
    account_id: int,
    visitor: Writer,
    name: FormText,
    kind: FormText,
    currency: OptionalText = None,
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    parent = container.accounts.visible(principal, account_id)
    created = container.accounts.create(
        principal,
        {"kind": kind, "name": name, "parent_id": parent.id, "currency": currency or None},
    )
    return RedirectResponse(f"{PREFIX}/accounts/{created.id}?done=created", status_code=303)


@router.post("/accounts/{account_id}/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    account_id: int,
    visitor: Writer,
    email: FormText,
    role: FormText,
    password: OptionalText = None,
) -> Response:
    """A portal user on this account; a generated password is shown once."""
    container = container_of(request)
    try:
        wanted = Role(role)
    except ValueError:
        raise InvalidInput("role: admin, reseller, customer, user or support") from None
    secret = password or secrets.token_urlsafe(12)
    container.auth.create_portal_user(visitor.principal, account_id, email, secret, wanted)
    context = {
        "account_id": account_id,
        "email": email.strip().lower(),
        "password": None if password else secret,
    }
    return render(request, "user_created.html", context, visitor=visitor, status_code=201)


@router.post("/accounts/{account_id}/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(request: Request, account_id: int, user_id: int, visitor: Writer) -> Response:
    """A parent gives a portal user a new password (shown once); its sessions end."""
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    users = {u.id: u for u in container.auth.portal_users(principal, account.id)}
    if user_id not in users:
        raise NotFound("portal user not found")
    secret = secrets.token_urlsafe(12)
    container.auth.reset_portal_password(principal, user_id, secret)
    context = {"account_id": account.id, "email": users[user_id].email, "password": secret}
    return render(request, "user_created.html", context, visitor=visitor)


# -- rates -------------------------------------------------------------------------------


@router.get("/rates", response_class=HTMLResponse)
def rates(
    request: Request,
    visitor: Visitor,
    number: Annotated[str | None, Query(max_length=40)] = None,
    plan: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    plans = container.rate_plans.list(principal)
    chosen = plan or next((p.plan.name for p in plans if p.effective), None)
    if chosen is None and plans and principal.role in (Role.ADMIN, Role.RESELLER, Role.SUPPORT):
        chosen = plans[0].plan.name  # no plan prices its own calls: the first it reads
    quote, message = None, None
    if number:
        try:
            name = container.rate_plans.quote_plan(principal, chosen)
            quote = container.rating.quote(principal.operator_id, name, number, 60)
        except (InvalidInput, NotFound) as exc:  # no plan, no such number: said on the page
            message = exc.message
    context = {
        "plans": plans,
        "number": number or "",
        "plan": chosen or "",
        "quote": quote,
        "message": message,
    }
    return render(request, "rates.html", context, visitor=visitor)


# -- CDRs --------------------------------------------------------------------------------


def _cdr_path(container: Container, principal: Principal, account_id: int | None) -> str:
    if account_id is None:
        return principal.path
    return container.accounts.visible(principal, account_id).path


@router.get("/cdrs", response_class=HTMLResponse)
def cdrs(
    request: Request,
    visitor: Visitor,
    account_id: Annotated[int | None, Query(ge=1)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    before_id: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    container = container_of(request)
    found = container.charging.cdrs(
        _cdr_path(container, visitor.principal, account_id),
        started_from=_when(start, "from"),
        started_to=_when(end, "to"),
        before_id=before_id,
        limit=PAGE,
    )
    filters = {"account_id": account_id or "", "from": start or "", "to": end or ""}
    context = {
        "rows": found,
        "filters": filters,
        "next_before": found[-1].id if len(found) == PAGE else None,
    }
    return render(request, "cdrs.html", context, visitor=visitor)


@router.get("/cdrs.csv")
def cdrs_csv(
    request: Request,
    visitor: Visitor,
    account_id: Annotated[int | None, Query(ge=1)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> Response:
    """The API's CSV export (the same columns), for the visitor's subtree."""
    container = container_of(request)
    found = container.charging.cdrs(
        _cdr_path(container, visitor.principal, account_id),
        started_from=_when(start, "from"),
        started_to=_when(end, "to"),
        limit=10_000,
    )
    text = csv_document(CSV_COLUMNS, (_csv_row(c) for c in found))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cdrs.csv"'},
    )
