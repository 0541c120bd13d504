"""High-risk destinations of the visitor's operator (docs/charging.md, "Fraud guard"):
listed to the roles the API lets read them, marked and unmarked by its admins (as
``/high-risk-destinations``). An account's own fraud settings are on its page."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.deps import container_of
from voxbill.domain.errors import InvalidInput
from voxbill.portal.pages.common import PAGE, FormText, OptionalText, can, page_router
from voxbill.portal.web import PREFIX, Visitor, Writer, render
from voxbill.services.charging import high_risk

router = page_router()

#: as the API's body: at most this many prefixes at once, notes this long
MAX_PREFIXES = 10000
MAX_NOTE = 200


@router.get("/fraud", response_class=HTMLResponse)
def high_risk_list(
    request: Request,
    visitor: Visitor,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    principal = visitor.principal
    found = container_of(request).high_risk.page(principal, after_id=after_id, limit=PAGE + 1)
    rows, more = found[:PAGE], len(found) > PAGE
    context = {
        "rows": rows,
        "next_after": rows[-1].id if more else None,
        "can_change": can(lambda: high_risk.check_change(principal)),
    }
    return render(request, "fraud.html", context, visitor=visitor)


@router.post("/fraud")
def add_high_risk(
    request: Request, visitor: Writer, prefixes: FormText, note: OptionalText = None
) -> Response:
    """Mark the prefixes (separated by spaces, commas or lines) high risk; those marked
    already are left as they are."""
    principal = visitor.principal
    high_risk.check_change(principal)
    given = [p for p in re.split(r"[\s,;]+", prefixes) if p]
    if not given:
        raise InvalidInput("prefixes: give at least one prefix, e.g. 882 or +4470")
    if len(given) > MAX_PREFIXES:
        raise InvalidInput(f"prefixes: at most {MAX_PREFIXES} at once")
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE:
        raise InvalidInput(f"note: at most {MAX_NOTE} characters")
    added = container_of(request).high_risk.add(principal, [(p, text) for p in given])
    return RedirectResponse(f"{PREFIX}/fraud?done=added+{len(added)}", status_code=303)


@router.post("/fraud/remove")
def remove_high_risk(request: Request, visitor: Writer, prefix: FormText) -> Response:
    principal = visitor.principal
    high_risk.check_change(principal)
    container_of(request).high_risk.remove(principal, prefix)
    return RedirectResponse(f"{PREFIX}/fraud?done=removed", status_code=303)
