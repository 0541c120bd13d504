"""Accounts, their children, caller identifiers and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from voxbill.api.account_schemas import (
    MAX_ID,
    AccountCreate,
    AccountPage,
    AccountRead,
    AccountUpdate,
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyRead,
    IdentifierCreate,
    IdentifierRead,
    PartnerPositionRead,
)
from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.problems import responses
from voxbill.bootstrap import Container
from voxbill.domain.accounts import Account, AccountStatus
from voxbill.domain.charging import effective_call_cap

router = APIRouter(tags=["accounts"])

AccountPath = Annotated[int, Path(ge=1, le=MAX_ID, description="account id")]
IdentifierPath = Annotated[int, Path(ge=1, le=MAX_ID, description="identifier id")]
Limit = Annotated[int, Query(ge=1, le=500)]
AfterId = Annotated[int | None, Query(ge=0, le=MAX_ID)]
#: a list that was whole before it was paged: no limit, every row (as it always was)
OptionalLimit = Annotated[
    int | None, Query(ge=1, le=500, description="a page of at most this many, by id")
]
#: the header with the next page's ``after_id`` of a full page of a bare-list answer
NEXT_AFTER_ID = "X-Next-After-Id"


def next_after_id(response: Response, ids: list[int], limit: int | None) -> None:
    """Say the next page's ``after_id`` (``X-Next-After-Id``) when a limited page is
    full: more may follow. A bare list answers as before, so the cursor is a header."""
    if limit is not None and len(ids) == limit:
        response.headers[NEXT_AFTER_ID] = str(ids[-1])


READ = responses(401, 404, 422)
WRITE = responses(401, 403, 404, 409, 422, 503)


def _read(
    container: Container, account: Account, above: list[Account] | None = None
) -> AccountRead:
    """The account's answer, with its effective per-call cap (``above``: its ancestors,
    parent first, when already read)."""
    if above is None:
        above = container.accounts.ancestors(account)
    settings = container.settings
    cap = effective_call_cap(
        [account, *above], settings.max_call_duration, settings.shared_balance_call_cap_seconds
    )
    return AccountRead.of(account, cap)


@router.post("/accounts", status_code=201, response_model=AccountRead, responses=WRITE)
def create_account(
    body: AccountCreate, principal: CurrentPrincipal, container: ContainerDep
) -> AccountRead:
    """Create an account under ``parent_id`` (default: the calling key's account)."""
    return _read(container, container.accounts.create(principal, body.fields()))


@router.get("/accounts/{account_id}", response_model=AccountRead, responses=READ)
def get_account(
    account_id: AccountPath, principal: CurrentPrincipal, container: ContainerDep
) -> AccountRead:
    return _read(container, container.accounts.visible(principal, account_id))


@router.patch("/accounts/{account_id}", response_model=AccountRead, responses=WRITE)
def update_account(
    account_id: AccountPath,
    body: AccountUpdate,
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> AccountRead:
    """Change settings, block or unblock (``status``) or move (``parent_id``) an account.

    An account cannot change its own credit, status, balance settings, plans or place in
    the tree; only its name and timezone.
    """
    return _read(container, container.accounts.patch(principal, account_id, body.changes()))


@router.get("/accounts/{account_id}/partner", response_model=PartnerPositionRead, responses=READ)
def get_partner_position(
    account_id: AccountPath, principal: CurrentPrincipal, container: ContainerDep
) -> PartnerPositionRead:
    """A two-way partner's position: inbound and outbound balances, net position and
    whether it is cut off now, asked of its customer side or of its vendor."""
    return PartnerPositionRead.of(container.accounts.partner_position(principal, account_id))


@router.post("/accounts/{account_id}/block", response_model=AccountRead, responses=WRITE)
def block_account(
    account_id: AccountPath, principal: CurrentPrincipal, container: ContainerDep
) -> AccountRead:
    return _read(
        container, container.accounts.set_status(principal, account_id, AccountStatus.BLOCKED)
    )


@router.post("/accounts/{account_id}/unblock", response_model=AccountRead, responses=WRITE)
def unblock_account(
    account_id: AccountPath, principal: CurrentPrincipal, container: ContainerDep
) -> AccountRead:
    return _read(
        container, container.accounts.set_status(principal, account_id, AccountStatus.ACTIVE)
    )


@router.get("/accounts/{account_id}/children", response_model=AccountPage, responses=READ)
def list_children(
    account_id: AccountPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    limit: Limit = 50,
    after_id: AfterId = None,
) -> AccountPage:
    items = container.accounts.children(principal, account_id, after_id=after_id, limit=limit)
    next_after = items[-1].id if len(items) == limit else None
    if not items:
        return AccountPage(items=[], next_after_id=next_after)
    parent = container.accounts.visible(principal, account_id)
    above = [parent, *container.accounts.ancestors(parent)]  # every child's
    return AccountPage(items=[_read(container, a, above) for a in items], next_after_id=next_after)


@router.post(
    "/accounts/{account_id}/identifiers",
    status_code=201,
    response_model=IdentifierRead,
    responses=WRITE,
)
def add_identifier(
    account_id: AccountPath,
    body: IdentifierCreate,
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> IdentifierRead:
    """Recognise a caller by ANI, SIP username, source IP/CIDR, or card number + PIN.

    Values are unique per operator: one held under this operator is 409 (whose it is
    is not said); another operator's is no obstacle. A catch-all IP network (wider
    than /8 or, IPv6, /32; loopback, multicast, unspecified, reserved) is 422
    ``network_not_allowed``."""
    added = container.identifiers.add(principal, account_id, body.type, body.value, body.pin)
    return IdentifierRead.of(added)


@router.get(
    "/accounts/{account_id}/identifiers", response_model=list[IdentifierRead], responses=READ
)
def list_identifiers(
    account_id: AccountPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    response: Response,
    limit: OptionalLimit = None,
    after_id: AfterId = None,
) -> list[IdentifierRead]:
    """The account's identifiers by id: every one, or with ``limit`` a page (then
    ``after_id``: the ``X-Next-After-Id`` header of a full page)."""
    found = container.identifiers.list(principal, account_id, after_id=after_id, limit=limit)
    next_after_id(response, [i.id for i in found], limit)
    return [IdentifierRead.of(i) for i in found]


@router.delete(
    "/identifiers/{identifier_id}",
    status_code=204,
    responses=responses(401, 403, 404, 422, 503),
)
def delete_identifier(
    identifier_id: IdentifierPath, principal: CurrentPrincipal, container: ContainerDep
) -> Response:
    """Stop recognising a caller by this identifier (a card's PIN counters go with it).
    Another tenant's identifier is 404, as if it did not exist; support keys: 403."""
    container.identifiers.delete(principal, identifier_id)
    return Response(status_code=204)


@router.post(
    "/accounts/{account_id}/api-keys",
    status_code=201,
    response_model=ApiKeyIssued,
    responses=WRITE,
)
def issue_api_key(
    account_id: AccountPath,
    body: ApiKeyCreate,
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> ApiKeyIssued:
    """A new key bound to the account; the response is the only time it is shown."""
    issued = container.auth.issue(principal, account_id, body.role, body.label)
    return ApiKeyIssued.issued(issued)


@router.get("/accounts/{account_id}/api-keys", response_model=list[ApiKeyRead], responses=READ)
def list_api_keys(
    account_id: AccountPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    response: Response,
    limit: OptionalLimit = None,
    after_id: AfterId = None,
) -> list[ApiKeyRead]:
    """The account's keys by id: every one, or with ``limit`` a page (then ``after_id``:
    the ``X-Next-After-Id`` header of a full page)."""
    found = container.auth.keys(principal, account_id, after_id=after_id, limit=limit)
    next_after_id(response, [k.id for k in found], limit)
    return [ApiKeyRead.of(k) for k in found]


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead, responses=WRITE)
def revoke_api_key(
    key_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> ApiKeyRead:
    """Revoke a key and every key minted from it (idempotent): at once for writes on
    every node; reads and calls on another node within ``hot_cache_seconds``."""
    return ApiKeyRead.of(container.auth.revoke(principal, key_id))
