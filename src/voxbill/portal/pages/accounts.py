"""The account tree and an account's page with its money and user forms.

Every write control is rendered only when the rule that guards its route would let it
pass, and that rule is checked again on POST."""

from __future__ import annotations

import secrets
from functools import partial
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.deps import container_of
from voxbill.bootstrap import Container
from voxbill.domain import access
from voxbill.domain.access import CREATABLE_KINDS, ISSUABLE_ROLES, Principal, Role
from voxbill.domain.accounts import Account, AccountStatus
from voxbill.domain.errors import Forbidden, InvalidInput, NotFound
from voxbill.portal.pages.common import (
    PAGE,
    AfterId,
    FormText,
    OptionalText,
    amount_of,
    back_to,
    can,
    listed,
    page_router,
    paged,
    replay,
)
from voxbill.portal.pages.dashboard import balance_chart
from voxbill.portal.web import (
    PREFIX,
    Visitor,
    Writer,
    new_form_key,
    render,
)

router = page_router()


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
        "top_up": can(lambda: access.check_top_up(principal, account)),
        "transfer": account.parent_id == mine.id
        and can(lambda: access.check_transfer(principal, mine, account)),
        "adjust": can(lambda: access.check_owner_money(principal, account, "adjustment")),
        "status": owner_ok and can(lambda: access.require_write(principal)),
        "create": any(
            can(partial(access.check_create, principal, kind))
            for kind in CREATABLE_KINDS[principal.role]
        ),
        "users": can(lambda: access.require_write(principal))
        and bool(ISSUABLE_ROLES[principal.role])
        and (principal.role is not Role.USER or principal.is_self(account)),
    }


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    request: Request,
    account_id: int,
    visitor: Visitor,
    before_id: Annotated[int | None, Query(ge=0)] = None,
    users_after: AfterId = None,
    children_after: AfterId = None,
) -> Response:
    """The account, its ledger (20 a page, ``before_id``), its portal users and the
    accounts directly below (``PAGE`` a page each: ``users_after``, ``children_after``)."""
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    entries = container.ledger.history(account.id, limit=20, before_id=before_id)
    users, next_users = paged(
        container.auth.portal_users(principal, account.id, after_id=users_after, limit=PAGE + 1)
    )
    children, next_children = paged(
        container.accounts.children(principal, account.id, after_id=children_after, limit=PAGE + 1)
    )
    context = {
        "account": account,
        "balance": container.ledger.balance(account.id),
        "balance_chart": balance_chart(container, account),
        "entries": entries,
        "next_before": entries[-1].id if len(entries) == 20 else None,
        "children": children,
        "next_children": next_children,
        "users": users,
        "next_users": next_users,
        "can": _controls(container, principal, account),
        "kinds": sorted(CREATABLE_KINDS[principal.role]),
        "roles": sorted(ISSUABLE_ROLES[principal.role]),
        "form_key": new_form_key(),
        "Status": AccountStatus,
    }
    return render(request, "account.html", context, visitor=visitor)


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
    value = amount_of(amount)
    container.ledger.top_up(
        account.id,
        value,
        note=note or None,
        guard=container.accounts.guard(
            principal, [account.id], partial(access.check_top_up, principal)
        ),
        **replay(visitor, form_key, "top-up", account.id, value, note),
    )
    return back_to(account.id, "top-up")


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
    value = amount_of(amount)
    container.ledger.transfer(
        source.id,
        target.id,
        value,
        note=note or None,
        guard=container.accounts.guard(
            principal, [source.id, target.id], partial(access.check_transfer, principal)
        ),
        **replay(visitor, form_key, "transfer", source.id, target.id, value, note),
    )
    return back_to(target.id, "transfer")


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
    value = amount_of(amount)
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
        **replay(visitor, form_key, "adjust", account.id, value, reason),
    )
    return back_to(account.id, "adjustment")


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
    return back_to(account.id, status)


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
    found = container.auth.portal_users(principal, account.id, after_id=user_id - 1, limit=1)
    if not listed(found, user_id):
        raise NotFound("portal user not found")
    secret = secrets.token_urlsafe(12)
    container.auth.reset_portal_password(principal, user_id, secret)
    context = {"account_id": account.id, "email": found[0].email, "password": secret}
    return render(request, "user_created.html", context, visitor=visitor)
