"""Exchange rates of the visitor's operator: listed (by id, a page at a time) to the
roles the API lets read them, set by the operator's admins (as ``/fx-rates``)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.deps import container_of
from voxbill.domain import fx
from voxbill.domain.errors import InvalidInput
from voxbill.portal.pages.common import PAGE, FormText, OptionalText, can, page_router, when_of
from voxbill.portal.web import PREFIX, Visitor, Writer, render

router = page_router()

Code = Annotated[str | None, Query(max_length=32)]


@router.get("/fx", response_class=HTMLResponse)
def fx_rates(
    request: Request,
    visitor: Visitor,
    base: Code = None,
    quote: Code = None,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    principal = visitor.principal
    fx.check_read(principal)
    found = container_of(request).ledger.fx_rates(
        principal.operator_id,
        base=base or None,
        quote=quote or None,
        after_id=after_id,
        limit=PAGE + 1,
    )
    rows, more = found[:PAGE], len(found) > PAGE
    context = {
        "rows": rows,
        "base": base or "",
        "quote": quote or "",
        "next_after": rows[-1].id if more else None,
        "can_set": can(lambda: fx.check_set(principal)),
    }
    return render(request, "fx.html", context, visitor=visitor)


def _rate(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(
            "rate: give a decimal number such as 1.0835", code="invalid_fx_rate"
        ) from None
    return fx.rate(value)


@router.post("/fx")
def set_fx_rate(
    request: Request,
    visitor: Writer,
    base: FormText,
    quote: FormText,
    rate: FormText,
    effective_from: OptionalText = None,
) -> Response:
    """1 base = rate quote from effective_from (empty: now); the same pair and instant
    again replaces it unless conversions already used it (409 fx_rate_in_use)."""
    principal = visitor.principal
    fx.check_set(principal)
    result = container_of(request).ledger.set_fx_rate(
        principal.operator_id,
        base,
        quote,
        _rate(rate),
        when_of(effective_from, "effective_from"),
    )
    return RedirectResponse(f"{PREFIX}/fx?done={result.outcome}", status_code=303)
