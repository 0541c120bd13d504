"""Rate plans of the key's operator: upload a deck (its admin, or a reseller into its own
plans), copy a plan with a markup and delete one (the admin, or a reseller for its own),
list, show a page of rates, read the price changes. Another operator's plans do not
exist here: a name is always the plan of that name in the key's own operator."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.plan_schemas import (
    DeckImportRead,
    MarginPageRead,
    RateChangePage,
    RateChangeRead,
    RatePlanCreate,
    RatePlanCreated,
    RatePlanDetail,
    RatePlanListed,
    RatePlanPage,
    RatePlanRead,
    RateRead,
)
from voxbill.api.problems import responses
from voxbill.domain.errors import InvalidInput, VoxbillError
from voxbill.domain.money import RoundingMethod
from voxbill.domain.plan_markup import Markup
from voxbill.services.rating.imports import PlanOptions
from voxbill.services.rating.reseller_plans import CopyRequest

router = APIRouter(tags=["rate plans"])

PLAN_NAME = r"^[^\x00-\x1f\x7f]{1,100}$"
PlanPath = Annotated[str, Path(min_length=1, max_length=100, pattern=PLAN_NAME)]
MAX_DECK_BYTES = 64 * 1024 * 1024

_DECK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


class PayloadTooLarge(VoxbillError):
    code = "payload_too_large"


class UnsupportedMediaType(VoxbillError):
    code = "unsupported_media_type"


def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("the deck is neither UTF-8 nor Windows-1252 text")


async def _deck_bytes(request: Request) -> bytes:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_DECK_BYTES:
        raise PayloadTooLarge(f"a deck upload is limited to {MAX_DECK_BYTES} bytes")
    if media == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput("file: a multipart upload needs a 'file' part")
        return await upload.read()
    if media in ("text/csv", "text/plain", "application/csv", "text/tab-separated-values"):
        return await request.body()
    raise UnsupportedMediaType("send the deck as text/csv or as multipart/form-data 'file'")


@router.post(
    "/rate-plans/{name}/deck",
    response_model=DeckImportRead,
    status_code=201,
    responses=responses(401, 403, 404, 409, 413, 415, 422, 503),
    openapi_extra=_DECK_BODY,
)
async def upload_deck(
    name: PlanPath,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    container: ContainerDep,
    currency: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$")] = None,
    replace: bool = False,
    skip_bad_rows: bool = False,
    timezone: Annotated[str | None, Query(min_length=1, max_length=64, pattern=PLAN_NAME)] = None,
    decimals: Annotated[int | None, Query(ge=0, le=8)] = None,
    rounding: RoundingMethod | None = None,
    holidays: Annotated[
        str | None, Query(max_length=2000, description="ISO dates, comma separated")
    ] = None,
    dry_run: Annotated[
        bool, Query(description="report the changes the import would make; write nothing")
    ] = False,
) -> DeckImportRead:
    """Import a rate deck CSV into a plan: all rows or none (line-numbered errors).
    With ``dry_run=true``: the same checks and the same report, the change counts
    computed against the plan's current rates, ``200`` and nothing written."""
    container.rate_plans.check_import(principal, name)
    holiday_dates = None
    if holidays:
        try:
            holiday_dates = frozenset(date.fromisoformat(d.strip()) for d in holidays.split(","))
        except ValueError:
            raise InvalidInput("holidays: give ISO dates such as 2026-12-25,2026-12-26") from None
    text = _text(await _deck_bytes(request))
    options = PlanOptions(currency, decimals, rounding, timezone, holiday_dates)
    report = container.rate_plans.import_csv(
        principal,
        name,
        text,
        source=f"api:{principal.actor}",
        options=options,
        replace=replace,
        skip_bad_rows=skip_bad_rows,
        dry_run=dry_run,
    )
    if dry_run:
        response.status_code = 200
    return DeckImportRead.of(report)


@router.post(
    "/rate-plans",
    response_model=RatePlanCreated,
    status_code=201,
    responses=responses(401, 403, 404, 409, 422, 503),
)
def create_rate_plan(
    body: RatePlanCreate, principal: CurrentPrincipal, container: ContainerDep
) -> RatePlanCreated:
    """A new plan: a copy of ``from_plan`` with the markup applied to every row, exactly
    (rounded once per price). A reseller key's copy is its own plan."""
    request = CopyRequest(
        body.name,
        body.from_plan,
        Markup(body.markup_percent, body.markup_fixed),
        body.decimals,
        body.rounding,
    )
    report = container.reseller_plans.copy(
        principal, request, owner_account_id=body.owner_account_id
    )
    return RatePlanCreated.of_copy(report)


@router.delete(
    "/rate-plans/{name}", status_code=204, responses=responses(401, 403, 404, 409, 422, 503)
)
def delete_rate_plan(
    name: PlanPath, principal: CurrentPrincipal, container: ContainerDep
) -> Response:
    """Delete a plan no account is rated by (``409 plan_in_use`` otherwise), with its
    rows and price history: the admin any plan, a reseller key the plans it owns."""
    container.reseller_plans.delete(principal, name)
    return Response(status_code=204)


@router.get("/rate-plans", response_model=RatePlanPage, responses=responses(401, 422))
def list_rate_plans(
    principal: CurrentPrincipal,
    container: ContainerDep,
    limit: Annotated[
        int | None, Query(ge=1, le=500, description="a page of at most this many, by name")
    ] = None,
    after: Annotated[
        str | None, Query(min_length=1, max_length=100, description="the page before's last name")
    ] = None,
) -> RatePlanPage:
    """The plans the key reads, by name: its effective plan (``effective: true``, the one
    that prices its own calls) and the plans its subtree is rated by; the operator's:
    all. Every one, or with ``limit`` a page after the name ``after`` (``next_after``:
    the next page's, when the page is full)."""
    found = container.rate_plans.list(principal, after=after, limit=limit)
    items = [
        RatePlanListed(**RatePlanRead.of(p.plan, p.rows).model_dump(), effective=p.effective)
        for p in found
    ]
    full = limit is not None and len(found) == limit
    return RatePlanPage(items=items, next_after=found[-1].plan.name if full else None)


@router.get("/rate-plans/{name}", response_model=RatePlanDetail, responses=responses(401, 404, 422))
def show_rate_plan(
    name: PlanPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> RatePlanDetail:
    page = container.rate_plans.show(principal, name, after_id=after_id, limit=limit)
    head = RatePlanRead.of(page.plan, page.rows)
    rates = [RateRead.of(r, page.plan.currency) for r in page.rates]
    next_after = rates[-1].id if len(rates) == limit else None
    return RatePlanDetail(**head.model_dump(), rates=rates, next_after_id=next_after)


@router.get(
    "/rate-plans/{name}/changes",
    response_model=RateChangePage,
    responses=responses(401, 404, 422),
)
def rate_plan_changes(
    name: PlanPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    import_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> RateChangePage:
    """Price changes recorded by the plan's imports, oldest first (one import's with
    ``import_id``): what price-change notices are made of."""
    plan, rows = container.rate_plans.changes(
        principal, name, import_id=import_id, after_id=after_id, limit=limit
    )
    items = [RateChangeRead.of(r, plan.currency) for r in rows]
    next_after = items[-1].id if len(items) == limit else None
    return RateChangePage(plan=plan.name, items=items, next_after_id=next_after)


@router.get(
    "/rate-plans/{name}/margin",
    response_model=MarginPageRead,
    responses=responses(401, 403, 404, 422),
)
def rate_plan_margin(
    name: PlanPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    at: Annotated[datetime | None, Query(description="default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> MarginPageRead:
    """A plan the key sells (its subtree is rated by it) against the key's buy plan (its
    account's own ``rate_plan``), per destination: sell rate, buy rate, margin. Read-only."""
    if at is not None and at.tzinfo is None:
        raise InvalidInput("at: give an offset (such as Z)")
    page = container.rate_plans.margin(
        principal,
        name,
        load=container.rating.plan,
        at=at or datetime.now(UTC),
        after_id=after_id,
        limit=limit,
    )
    return MarginPageRead.of(page, limit)
