"""Money endpoints: every movement goes through the ledger, idempotent by key.

Tenancy is checked twice: here, to answer fast, and again by a guard the ledger runs
inside the movement's own transaction (accounts re-read FOR SHARE before the balances
are locked), so a concurrent move, status change or re-parenting cannot slip between
the check and the money.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from voxbill.api.account_schemas import MAX_ID
from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.idempotency import IdempotencyKey, replay_args
from voxbill.api.money_schemas import (
    AdjustmentCreate,
    BalanceRead,
    LedgerEntryRead,
    LedgerPage,
    RefundCreate,
    TopUpCreate,
    TransactionRead,
    TransferCreate,
)
from voxbill.api.problems import responses
from voxbill.bootstrap import Container
from voxbill.domain import access
from voxbill.domain.access import Principal
from voxbill.domain.errors import InvalidInput, NotFound
from voxbill.services.ledger.service import LedgerTransaction

router = APIRouter(tags=["money"])

AccountPath = Annotated[int, Path(ge=1, le=MAX_ID, description="account id")]
MONEY = responses(401, 402, 403, 404, 409, 422, 503)
READ = responses(401, 404, 422)
REPLAYED = "Idempotent-Replayed"


def positive(amount: Decimal, what: str) -> None:
    if amount <= 0:
        raise InvalidInput(f"amount: {what} must be positive")


def _answer(response: Response, replayed: bool) -> None:
    if replayed:
        response.headers[REPLAYED] = "true"


@router.post(
    "/accounts/{account_id}/topups",
    status_code=201,
    response_model=TransactionRead,
    responses=MONEY,
)
def top_up(
    account_id: AccountPath,
    body: TopUpCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
) -> TransactionRead:
    """Operator money in (admin keys only); a reseller funds a child with a transfer."""
    account = container.accounts.visible(principal, account_id)
    access.check_top_up(principal, account)
    positive(body.amount, "a top-up")
    tx = container.ledger.top_up(
        account.id,
        body.amount,
        note=body.note,
        guard=container.accounts.guard(
            principal, [account.id], partial(access.check_top_up, principal)
        ),
        **replay_args(request, principal, idempotency_key, body),
    )
    _answer(response, tx.replayed)
    return TransactionRead.of(tx)


@router.post(
    "/accounts/{account_id}/transfers",
    status_code=201,
    response_model=TransactionRead,
    responses=MONEY,
)
def transfer(
    account_id: AccountPath,
    body: TransferCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
) -> TransactionRead:
    """Fund a direct child from this account's balance; the answer is the source's side."""
    source = container.accounts.visible(principal, account_id)
    try:
        target = container.accounts.visible(principal, body.to_account_id)
    except NotFound:
        raise InvalidInput("to_account_id: no such account") from None
    access.check_transfer(principal, source, target)
    positive(body.amount, "a transfer")
    tx = container.ledger.transfer(
        source.id,
        target.id,
        body.amount,
        note=body.note,
        guard=container.accounts.guard(
            principal, [source.id, target.id], partial(access.check_transfer, principal)
        ),
        **replay_args(request, principal, idempotency_key, body),
    )
    _answer(response, tx.replayed)
    return TransactionRead.of(tx)


def _owner_money(
    operation: str,
    move: Callable[..., LedgerTransaction],
    account_id: int,
    body: AdjustmentCreate | RefundCreate,
    check_amount: Callable[[], object],
    request: Request,
    principal: Principal,
    container: Container,
    idempotency_key: str | None,
) -> LedgerTransaction:
    """An adjustment or refund by an ancestor: visibility and permission first (404/403
    before any 422), then the amount, then the move with the checks re-run inside it."""
    account = container.accounts.visible(principal, account_id)
    access.check_owner_money(principal, account, operation)
    check_amount()
    return move(
        account.id,
        body.amount,
        body.reason,
        funded_by=access.funding_account(principal),
        guard=container.accounts.guard(
            principal,
            [account.id],
            partial(access.check_owner_money, principal, operation=operation),
        ),
        **replay_args(request, principal, idempotency_key, body),
    )


@router.post(
    "/accounts/{account_id}/adjustments",
    status_code=201,
    response_model=TransactionRead,
    responses=MONEY,
)
def adjust(
    account_id: AccountPath,
    body: AdjustmentCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
) -> TransactionRead:
    """Increment or decrement a balance, with a reason (made by an ancestor account).

    An admin key's adjustment is the operator's; anyone else's moves money between its
    own balance and the account's (it pays for a credit, a debit comes back to it)."""

    def nonzero() -> None:
        if body.amount == 0:
            raise InvalidInput("amount: an adjustment cannot be zero")

    tx = _owner_money(
        "adjustment",
        container.ledger.adjust,
        account_id,
        body,
        nonzero,
        request,
        principal,
        container,
        idempotency_key,
    )
    _answer(response, tx.replayed)
    return TransactionRead.of(tx)


@router.post(
    "/accounts/{account_id}/refunds",
    status_code=201,
    response_model=TransactionRead,
    responses=MONEY,
)
def refund(
    account_id: AccountPath,
    body: RefundCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
) -> TransactionRead:
    """Money given back: from the operator's refunds book (admin) or the caller's balance."""
    tx = _owner_money(
        "refund",
        container.ledger.refund,
        account_id,
        body,
        lambda: positive(body.amount, "a refund"),
        request,
        principal,
        container,
        idempotency_key,
    )
    _answer(response, tx.replayed)
    return TransactionRead.of(tx)


@router.get("/accounts/{account_id}/balance", response_model=BalanceRead, responses=READ)
def balance(
    account_id: AccountPath, principal: CurrentPrincipal, container: ContainerDep
) -> BalanceRead:
    """Balance, open reservations and what is available (balance + credit - reserved)."""
    account = container.accounts.visible(principal, account_id)
    return BalanceRead.of(container.ledger.balance(account.id))


@router.get("/accounts/{account_id}/ledger", response_model=LedgerPage, responses=READ)
def history(
    account_id: AccountPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> LedgerPage:
    """The entries on an account's balance, newest first."""
    account = container.accounts.visible(principal, account_id)
    entries = container.ledger.history(account.id, limit=limit, before_id=before_id)
    next_before = entries[-1].id if len(entries) == limit else None
    return LedgerPage(
        items=[LedgerEntryRead.of(e, account.currency) for e in entries], next_before_id=next_before
    )
