"""Exchange rates of the key's operator: read by its staff, resellers and customers,
set by the operator (admin keys). Conversions of the operator's books use them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.fx_schemas import FxRateCreate, FxRatePage, FxRateRead, FxRateSetRead
from voxbill.api.problems import responses
from voxbill.domain import fx
from voxbill.domain.access import Principal

router = APIRouter(tags=["exchange rates"])

Code = Annotated[str | None, Query(max_length=32, description="ISO 4217 code")]


async def _reader(principal: CurrentPrincipal) -> Principal:
    fx.check_read(principal)
    return principal


async def _setter(principal: CurrentPrincipal) -> Principal:
    """Checked before the body is read: a key that may not set rates is a 403 whatever
    it sent."""
    fx.check_set(principal)
    return principal


FxReader = Annotated[Principal, Depends(_reader)]
FxSetter = Annotated[Principal, Depends(_setter)]


@router.get("/fx-rates", response_model=FxRatePage, responses=responses(401, 403, 422))
def list_fx_rates(
    principal: FxReader,
    container: ContainerDep,
    base: Code = None,
    quote: Code = None,
    at: Annotated[
        datetime | None, Query(description="only each pair's rate in force at this instant")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> FxRatePage:
    """The operator's exchange rates, oldest first (by id)."""
    rates = container.ledger.fx_rates(
        principal.operator_id, base=base, quote=quote, at=at, after_id=after_id, limit=limit
    )
    items = [FxRateRead.of(r) for r in rates]
    return FxRatePage(items=items, next_after_id=items[-1].id if len(items) == limit else None)


@router.post(
    "/fx-rates",
    status_code=201,
    response_model=FxRateSetRead,
    responses={
        200: {"model": FxRateSetRead, "description": "replaced, or unchanged"},
        **responses(401, 403, 409, 422, 503),
    },
)
def set_fx_rate(
    body: FxRateCreate, response: Response, principal: FxSetter, container: ContainerDep
) -> FxRateSetRead:
    """Set 1 base = rate quote from effective_from (default: now) for the operator's books.

    The same base, quote and effective_from again replaces the rate, unless conversions
    are already stored at the rate it would change (409 fx_rate_in_use): set a new rate
    from now on instead.
    """
    result = container.ledger.set_fx_rate(
        principal.operator_id, body.base, body.quote, body.rate, body.effective_from
    )
    if result.outcome != "created":
        response.status_code = 200
    return FxRateSetRead.of_set(result)
