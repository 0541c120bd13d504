"""Rate plans the visitor can read, and a price lookup."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse

from voxbill.api.deps import container_of
from voxbill.domain.access import Role
from voxbill.domain.errors import InvalidInput, NotFound
from voxbill.portal.pages.common import (
    page_router,
)
from voxbill.portal.web import (
    Visitor,
    render,
)

router = page_router()


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
