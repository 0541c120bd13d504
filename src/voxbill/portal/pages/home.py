"""Each role's home page; an admin's, support's or reseller's shows its subtree's
dashboard for today (``pages/dashboard.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse

from voxbill.api.deps import container_of
from voxbill.domain.access import Role
from voxbill.domain.dashboard import OVERSEERS
from voxbill.portal.pages.common import (
    PAGE,
    page_router,
)
from voxbill.portal.pages.dashboard import overview
from voxbill.portal.web import (
    Visitor,
    render,
)

router = page_router()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, visitor: Visitor) -> Response:
    container = container_of(request)
    principal = visitor.principal
    balance = container.ledger.balance(principal.account_id)
    context: dict[str, Any] = {"balance": balance}
    if principal.role in (Role.ADMIN, Role.RESELLER, Role.SUPPORT):
        # a bounded count: reading 1,000 accounts to count them cost ~200 ms
        scope_rows = container.accounts.search(principal, name=None, after_id=None, limit=101)
        context["in_scope"] = len(scope_rows) - 1  # not counting itself
        context["more"] = len(scope_rows) > 100
        context["children"] = container.accounts.children(
            principal, principal.account_id, after_id=None, limit=PAGE
        )
    if principal.role in OVERSEERS:
        context["dash"] = overview(container, principal, datetime.now(UTC), charts=False)
    context["calls"] = container.charging.cdrs(principal.path, limit=10)
    return render(request, "home.html", context, visitor=visitor)
