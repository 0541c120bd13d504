"""CDR search and its CSV export, within the visitor's subtree."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse

from voxbill.api.deps import container_of
from voxbill.api.routers.cdrs import CSV_COLUMNS, _csv_row
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal
from voxbill.domain.csv_safe import csv_document
from voxbill.portal.pages.common import (
    PAGE,
    page_router,
    when_of,
)
from voxbill.portal.web import (
    Visitor,
    render,
)

router = page_router()


def _cdr_path(container: Container, principal: Principal, account_id: int | None) -> str:
    if account_id is None:
        return principal.path
    return container.accounts.visible(principal, account_id).path


@router.get("/cdrs", response_class=HTMLResponse)
def cdrs(
    request: Request,
    visitor: Visitor,
    account_id: Annotated[int | None, Query(ge=1)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    before_id: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    container = container_of(request)
    found = container.charging.cdrs(
        _cdr_path(container, visitor.principal, account_id),
        started_from=when_of(start, "from"),
        started_to=when_of(end, "to"),
        before_id=before_id,
        limit=PAGE,
    )
    filters = {"account_id": account_id or "", "from": start or "", "to": end or ""}
    context = {
        "rows": found,
        "filters": filters,
        "next_before": found[-1].id if len(found) == PAGE else None,
    }
    return render(request, "cdrs.html", context, visitor=visitor)


@router.get("/cdrs.csv")
def cdrs_csv(
    request: Request,
    visitor: Visitor,
    account_id: Annotated[int | None, Query(ge=1)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> Response:
    """The API's CSV export (the same columns), for the visitor's subtree."""
    container = container_of(request)
    found = container.charging.cdrs(
        _cdr_path(container, visitor.principal, account_id),
        started_from=when_of(start, "from"),
        started_to=when_of(end, "to"),
        limit=10_000,
    )
    text = csv_document(CSV_COLUMNS, (_csv_row(c) for c in found))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cdrs.csv"'},
    )
