"""An account's API keys and caller identifiers (the API's ``/accounts/{id}/api-keys``
and ``/accounts/{id}/identifiers``): listed to whoever sees the account; issued, revoked,
added and removed under the same rules (``access.check_issue_key``, ``check_revoke``,
``check_identifiers``), each control rendered only when its rule passes. A key's secret
is shown once, on the page that answers its issue; a card's PIN is set, never shown."""

from __future__ import annotations

from functools import partial

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.account_schemas import ApiKeyCreate, IdentifierCreate
from voxbill.api.deps import container_of
from voxbill.domain import access
from voxbill.domain.access import ISSUABLE_ROLES, ROLE_KINDS, Principal, Role
from voxbill.domain.accounts import Account
from voxbill.domain.errors import NotFound
from voxbill.domain.identifiers import IdentifierType
from voxbill.portal.pages.common import (
    PAGE,
    AfterId,
    FormText,
    OptionalText,
    can,
    listed,
    page_router,
    paged,
)
from voxbill.portal.pages.settings import validated
from voxbill.portal.web import PREFIX, Visitor, Writer, render

router = page_router()


def _issuable(principal: Principal, account: Account) -> list[Role]:
    """The roles of the keys the visitor may issue for this account (and its kind takes)."""
    return sorted(
        role
        for role in ISSUABLE_ROLES[principal.role]
        if account.kind in ROLE_KINDS[role]
        and can(partial(access.check_issue_key, principal, account, role))
    )


def _to(account_id: int, page: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/accounts/{account_id}/{page}?done={done}", status_code=303)


@router.get("/accounts/{account_id}/keys", response_class=HTMLResponse)
def keys_page(
    request: Request, account_id: int, visitor: Visitor, after_id: AfterId = None
) -> Response:
    """The account's keys, ``PAGE`` at a time by id (``after_id``)."""
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    keys, next_after = paged(
        container.auth.keys(principal, account.id, after_id=after_id, limit=PAGE + 1)
    )
    context = {
        "account": account,
        "keys": keys,
        "next_after": next_after,
        "roles": _issuable(principal, account),
        "can_revoke": can(partial(access.check_revoke, principal)),
    }
    return render(request, "keys.html", context, visitor=visitor)


@router.post("/accounts/{account_id}/keys", response_class=HTMLResponse)
def issue_key(
    request: Request,
    account_id: int,
    visitor: Writer,
    role: FormText,
    label: OptionalText = None,
) -> Response:
    """A new key; the answer is the only time its secret is shown."""
    container = container_of(request)
    body = validated(ApiKeyCreate, {"role": role, "label": (label or "").strip() or None})
    issued = container.auth.issue(visitor.principal, account_id, body.role, body.label)
    context = {"account_id": account_id, "record": issued.record, "secret": issued.secret}
    return render(request, "keys_issued.html", context, visitor=visitor, status_code=201)


@router.post("/accounts/{account_id}/keys/{key_id}/revoke")
def revoke_key(request: Request, account_id: int, key_id: int, visitor: Writer) -> Response:
    """Revoke the key and every key minted from it (as ``DELETE /api-keys/{id}``)."""
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    if not listed(container.auth.keys(principal, account.id, after_id=key_id - 1, limit=1), key_id):
        raise NotFound("API key not found")
    access.check_revoke(principal)
    container.auth.revoke(principal, key_id)
    return _to(account.id, "keys", "revoked")


@router.get("/accounts/{account_id}/identifiers", response_class=HTMLResponse)
def identifiers_page(
    request: Request, account_id: int, visitor: Visitor, after_id: AfterId = None
) -> Response:
    """The account's identifiers, ``PAGE`` at a time by id (``after_id``)."""
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    identifiers, next_after = paged(
        container.identifiers.list(principal, account.id, after_id=after_id, limit=PAGE + 1)
    )
    context = {
        "account": account,
        "identifiers": identifiers,
        "next_after": next_after,
        "types": list(IdentifierType),
        "can_edit": can(partial(access.check_identifiers, principal, account)),
    }
    return render(request, "identifiers.html", context, visitor=visitor)


@router.post("/accounts/{account_id}/identifiers")
def add_identifier(
    request: Request,
    account_id: int,
    visitor: Writer,
    type: FormText,
    value: FormText,
    pin: OptionalText = None,
) -> Response:
    container = container_of(request)
    data = {"type": type, "value": value.strip(), "pin": (pin or "").strip() or None}
    body = validated(IdentifierCreate, data)
    container.identifiers.add(visitor.principal, account_id, body.type, body.value, body.pin)
    return _to(account_id, "identifiers", "added")


@router.post("/accounts/{account_id}/identifiers/{identifier_id}/remove")
def remove_identifier(
    request: Request, account_id: int, identifier_id: int, visitor: Writer
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    found = container.identifiers.list(principal, account.id, after_id=identifier_id - 1, limit=1)
    if not listed(found, identifier_id):
        raise NotFound("identifier not found")
    access.check_identifiers(principal, account)
    container.identifiers.delete(principal, identifier_id)
    return _to(account.id, "identifiers", "removed")
