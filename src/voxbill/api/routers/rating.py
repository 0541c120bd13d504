"""Quoting calls."""

from __future__ import annotations

from fastapi import APIRouter

from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.problems import responses
from voxbill.api.schemas import QuoteRead, QuoteRequest
from voxbill.domain.money import canonical

router = APIRouter(tags=["rating"])


@router.post("/quote", response_model=QuoteRead, responses=responses(401, 404, 422))
def quote(body: QuoteRequest, principal: CurrentPrincipal, container: ContainerDep) -> QuoteRead:
    """Price one call: the cost of ``duration`` seconds to ``to`` on ``plan``.

    Without ``plan``: on the key's effective plan (the one that prices its own calls).
    A user or card key quotes only that plan; other keys any plan they can read, of their
    own operator (its admin: all of them). Any other name answers as an unknown one.
    """
    plan = container.rate_plans.quote_plan(principal, body.plan)
    result = container.rating.quote(
        principal.operator_id, plan, body.to, body.duration, body.at, body.available
    )
    rating = result.rating
    return QuoteRead(
        plan=rating.plan,
        number=result.number,
        currency=rating.currency,
        prefix=rating.prefix,
        destination=rating.destination,
        rate=rating.rate,
        billed_seconds=rating.billed_seconds,
        cost=rating.cost,
        exact_cost=canonical(rating.exact_cost),
        at=result.at,
        duration=result.duration,
        max_duration=result.max_duration,
    )
