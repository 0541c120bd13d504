"""CDRs of the key's subtree (or of one account in it): JSON pages and a CSV export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from voxbill.api.account_schemas import MAX_ID
from voxbill.api.auth import CurrentPrincipal
from voxbill.api.call_schemas import CdrPage, CdrRead
from voxbill.api.deps import ContainerDep
from voxbill.api.problems import responses
from voxbill.domain.access import Principal
from voxbill.domain.cdrs import Cdr
from voxbill.domain.csv_safe import Cell, csv_document
from voxbill.domain.money import canonical

router = APIRouter(tags=["cdrs"])

AccountFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="one account's subtree (default: the key's)")
]
From = Annotated[datetime | None, Query(alias="from", description="calls started at or after")]
To = Annotated[datetime | None, Query(alias="to", description="calls started before")]
Number = Annotated[
    str | None, Query(max_length=32, description="callee prefix or caller number (digits)")
]
BeforeId = Annotated[int | None, Query(ge=1, le=2**62, description="next page: next_before_id")]

CSV_COLUMNS = [
    "id",
    "session_id",
    "account_id",
    "caller",
    "callee",
    "started_at",
    "duration",
    "billed_seconds",
    "rate",
    "cost",
    "currency",
    "prefix",
    "destination",
    "overrun",
    "settled_by",
    "legs",
    "vendor_id",
    "vendor_cost",
    "vendor_currency",
    "margin",
    "settled_reason",
    "corrected_at",
    "swept_duration",
    "swept_cost",
    "swept_vendor_cost",
]


def _path(container: ContainerDep, principal: Principal, account_id: int | None) -> str:
    if account_id is None:
        return principal.path
    return container.accounts.visible(principal, account_id).path


@router.get("/cdrs", response_model=CdrPage, responses=responses(401, 404, 422))
def list_cdrs(
    principal: CurrentPrincipal,
    container: ContainerDep,
    account_id: AccountFilter = None,
    started_from: From = None,
    started_to: To = None,
    number: Number = None,
    before_id: BeforeId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CdrPage:
    """Newest first; page with ``before_id``."""
    found = container.charging.cdrs(
        _path(container, principal, account_id),
        started_from=started_from,
        started_to=started_to,
        number=number,
        before_id=before_id,
        limit=limit,
    )
    next_before = found[-1].id if len(found) == limit else None
    return CdrPage(items=[CdrRead.of(c) for c in found], next_before_id=next_before)


def _csv_row(cdr: Cdr) -> list[Cell]:
    """Text from outside (ids, numbers, names) as ``str``, amounts as ``Decimal``: the
    CSV writer neutralises the text and keeps the amounts machine-readable."""
    legs = ";".join(
        f"{leg.level}:{leg.account_id}:{leg.plan}:{canonical(leg.cost)}:{leg.currency}:"
        f"{'' if leg.margin is None else canonical(leg.margin)}"
        for leg in cdr.legs
        if leg.side == "sell"
    )
    return [
        cdr.id,
        cdr.session_id,
        cdr.account_id,
        cdr.caller,
        cdr.callee,
        cdr.started_at.isoformat(),
        cdr.duration,
        cdr.billed_seconds,
        cdr.rate,
        cdr.cost,
        cdr.currency,
        cdr.prefix,
        cdr.destination,
        cdr.overrun,
        cdr.settled_by,
        legs,
        cdr.vendor_id,
        cdr.vendor_cost,
        cdr.vendor_currency or "",
        cdr.margin,
        cdr.settled_reason or "",
        "" if cdr.corrected_at is None else cdr.corrected_at.isoformat(),
        cdr.swept_duration,
        cdr.swept_cost,
        cdr.swept_vendor_cost,
    ]


@router.get(
    "/cdrs.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **responses(401, 404, 422)},
)
def export_cdrs(
    principal: CurrentPrincipal,
    container: ContainerDep,
    account_id: AccountFilter = None,
    started_from: From = None,
    started_to: To = None,
    number: Number = None,
    before_id: BeforeId = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
) -> Response:
    """The same CDRs as CSV (decimal strings; ``legs``: the sell legs as level:account:plan:
    cost:currency:margin, joined by ``;``; the buy leg in ``vendor_*``, then ``margin``:
    what the operator was paid minus the vendor cost). A text cell starting with = + - @,
    TAB or CR gets a leading ``'``, so a spreadsheet never runs it as a formula."""
    found = container.charging.cdrs(
        _path(container, principal, account_id),
        started_from=started_from,
        started_to=started_to,
        number=number,
        before_id=before_id,
        limit=limit,
    )
    text = csv_document(CSV_COLUMNS, (_csv_row(c) for c in found))
    return Response(text, media_type="text/csv; charset=utf-8")
