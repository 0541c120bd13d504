"""Rate plans: the plans the visitor reads, a price lookup, a plan's page (settings, its
rates, its import history and each import's change record), a deck upload that is
previewed (a dry run: the changes listed, nothing written) before it is published,
reseller plan authoring (a copy or an empty plan, deleting one) and the margin of a
plan the visitor sells.

The deck between preview and publish: nothing is kept on the server. The preview page
carries the deck itself (base64, so no browser rewrites its line ends), the options, the
plan's state the preview was computed against (:func:`plan_state`) and an HMAC of all of
them under the session's secret; publishing checks the HMAC (the deck is exactly the one
previewed, by this session) and imports with ``expect_state`` (the plan has not changed
since: else 409, preview again). A second post of the same preview finds the plan
changed by the first: nothing is imported twice."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import File, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.deps import container_of
from voxbill.api.routers.rate_plans import _text as deck_text
from voxbill.bootstrap import Container
from voxbill.domain import access
from voxbill.domain.access import PortalSession, Principal, Role
from voxbill.domain.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    RateDeckError,
    VoxbillError,
)
from voxbill.domain.plan_markup import Markup
from voxbill.domain.rate_changes import PriceChange
from voxbill.domain.rates import PlanOptions, PlanRecord
from voxbill.portal.pages.common import (
    PAGE,
    FormText,
    OptionalText,
    amount_of,
    page_router,
)
from voxbill.portal.web import (
    PREFIX,
    Visitor,
    Writer,
    actor_of,
    render,
    templates,
)
from voxbill.services.rating.imports import plan_name_taken
from voxbill.services.rating.reseller_plans import CopyRequest

router = page_router()


def _quoted(name: str) -> str:
    """A plan name as one path segment (a name may hold any printable character)."""
    return quote(name, safe="")


templates.env.filters["plan_url"] = _quoted

#: the largest deck the portal takes (bigger ones: the API or ``voxbill rates import``)
MAX_PORTAL_DECK = 8 * 1024 * 1024
#: rows of each kind of change a preview lists (the counts are always whole)
PREVIEW_ROWS = 200
KINDS = ("new", "increased", "decreased", "removed")
PlanName = Annotated[str, Query(max_length=100)]


def _quote(
    container: Container, principal: Principal, plan: str | None, number: str
) -> tuple[Any, str | None]:
    """A one-minute quote of the number in the plan (or the visitor's effective plan);
    no plan or no rate for the number is said on the page, not an error."""
    try:
        name = container.rate_plans.quote_plan(principal, plan)
        return container.rating.quote(principal.operator_id, name, number, 60), None
    except (InvalidInput, NotFound) as exc:
        return None, exc.message


def _allowed(check: Callable[[], object]) -> bool:
    """Whether a rule lets a write pass (a refusal of any kind: no control)."""
    try:
        check()
    except VoxbillError:
        return False
    return True


def _may_author(principal: Principal) -> bool:
    """The rule of ``reseller_plans.copy``: the admin and resellers make plans."""
    return principal.role in (Role.ADMIN, Role.RESELLER) and _allowed(
        lambda: access.require_write(principal)
    )


def _may_delete(principal: Principal, plan: PlanRecord) -> bool:
    """The rule of ``reseller_plans.delete``: the admin any plan, a reseller its own."""
    owner_ok = principal.role is Role.ADMIN or (
        principal.role is Role.RESELLER and plan.owner_account_id == principal.account_id
    )
    return owner_ok and _allowed(lambda: access.require_write(principal))


@router.get("/rates", response_class=HTMLResponse)
def rates(
    request: Request,
    visitor: Visitor,
    number: Annotated[str | None, Query(max_length=40)] = None,
    plan: Annotated[str | None, Query(max_length=100)] = None,
    plans_after: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The plans the visitor reads, ``PAGE`` a page by name (``plans_after``: the last
    name of the page before), each counted; the forms choose among all of them."""
    container = container_of(request)
    principal = visitor.principal
    found = container.rate_plans.list(principal, after=plans_after, limit=PAGE + 1)
    listed = found[:PAGE]
    choices = container.rate_plans.choices(principal)
    chosen = plan or next((p.name for p, effective in choices if effective), None)
    if chosen is None and choices and principal.role in (Role.ADMIN, Role.RESELLER, Role.SUPPORT):
        chosen = choices[0][0].name  # no plan prices its own calls: the first it reads
    quote, message = _quote(container, principal, chosen, number) if number else (None, None)
    author = _may_author(principal)
    context = {
        "plans": listed,
        "next_plans": listed[-1].plan.name if len(found) > PAGE else None,
        "choices": [p.name for p, _ in choices],
        "number": number or "",
        "plan": chosen or "",
        "quote": quote,
        "message": message,
        "author": author,
        "sources": _copy_sources(principal, choices) if author else [],
    }
    return render(request, "rates.html", context, visitor=visitor)


def _copy_sources(principal: Principal, choices: list[tuple[PlanRecord, bool]]) -> list[str]:
    """The plans the visitor may copy: the admin any, a reseller its buy plan and its own."""
    if principal.role is Role.ADMIN:
        return [p.name for p, _ in choices]
    return [
        p.name
        for p, effective in choices
        if effective or p.owner_account_id == principal.account_id
    ]


@router.get("/rates/{name}", response_class=HTMLResponse)
def plan_page(
    request: Request,
    name: str,
    visitor: Visitor,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    import_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    changes_after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    imports_before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    number: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """A plan the visitor reads (else 404): settings, its rates a page by id, its imports
    newest first, one import's change record, a price lookup in it."""
    container = container_of(request)
    principal = visitor.principal
    page = container.rate_plans.show(principal, name, after_id=after_id, limit=PAGE)
    plan = page.plan
    _, imports = container.rate_plans.imports(principal, name, before_id=imports_before, limit=PAGE)
    chosen = import_id if import_id is not None else (imports[0].id if imports else None)
    changes: list[Any] = []
    if chosen is not None:
        _, changes = container.rate_plans.changes(
            principal, name, import_id=chosen, after_id=changes_after, limit=PAGE
        )
    quote, message = _quote(container, principal, name, number) if number else (None, None)
    effective = container.rate_plans.effective(principal)
    context = {
        "plan": plan,
        "rows": page.rows,
        "rates": page.rates,
        "next_after": page.rates[-1].id if len(page.rates) == PAGE else None,
        "imports": imports,
        "next_imports": imports[-1].id if len(imports) == PAGE else None,
        "import_id": chosen,
        "changes": changes,
        "next_changes": changes[-1].id if len(changes) == PAGE else None,
        "number": number or "",
        "quote": quote,
        "message": message,
        "effective": plan.name == effective,
        "can": {
            "upload": _allowed(lambda: container.rate_plans.check_import(principal, name)),
            "delete": _may_delete(principal, plan),
            "margin": principal.role in (Role.RESELLER, Role.CUSTOMER, Role.SUPPORT)
            and principal.path.count("/") > 2  # below the operator: it has a buy plan
            and plan.name != effective,
        },
    }
    return render(request, "plan.html", context, visitor=visitor)


# -- the deck: preview, then publish ------------------------------------------------------


def _digest(visitor: PortalSession, fields: list[str]) -> str:
    """What the preview page's hidden fields are signed with: the session's secret, so
    a publish carries exactly a deck and options this session previewed."""
    text = "\x1f".join(["voxbill-rate-deck-preview", *fields])
    return hmac.new(visitor.csrf_secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _options(currency: str | None) -> PlanOptions:
    value = (currency or "").strip().upper()
    if value and (len(value) != 3 or not value.isalpha()):
        raise InvalidInput("currency: a three-letter code such as USD")
    return PlanOptions(currency=value or None)


def _flag(value: str | None) -> bool:
    return value in ("1", "on", "true", "yes")


def _read_upload(upload: UploadFile) -> str:
    data = upload.file.read(MAX_PORTAL_DECK + 1)
    if len(data) > MAX_PORTAL_DECK:
        raise InvalidInput(
            f"file: the portal takes decks up to {MAX_PORTAL_DECK // (1024 * 1024)} MB; "
            "import larger ones with the API or `voxbill rates import`"
        )
    if not data.strip():
        raise InvalidInput("file: choose a rate deck CSV file to upload")
    return deck_text(data)


def _settings(container: Container, principal: Principal, name: str) -> PlanRecord | None:
    """The plan's settings if the visitor reads it (None: a new plan)."""
    try:
        return container.rate_plans.show(principal, name, after_id=None, limit=1).plan
    except NotFound:
        return None


def _by_kind(changes: list[PriceChange]) -> dict[str, list[PriceChange]]:
    shown: dict[str, list[PriceChange]] = {kind: [] for kind in KINDS}
    for change in changes:
        rows = shown.setdefault(change.change, [])
        if len(rows) < PREVIEW_ROWS:
            rows.append(change)
    return shown


@router.post("/rates/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    visitor: Writer,
    plan: FormText,
    file: Annotated[UploadFile, File()],
    currency: OptionalText = None,
    replace: OptionalText = None,
    skip_bad_rows: OptionalText = None,
) -> Response:
    """A dry run of the deck into the plan: what would change, line-numbered errors;
    nothing written. The page's Publish button posts exactly this deck."""
    name = plan.strip()
    container_of(request).rate_plans.check_import(visitor.principal, name)  # 403/404 first
    text = _read_upload(file)
    return _preview_page(
        request, visitor, name, text, currency, _flag(replace), _flag(skip_bad_rows)
    )


def _preview_page(
    request: Request,
    visitor: PortalSession,
    name: str,
    text: str,
    currency: str | None,
    replace: bool,
    skip_bad_rows: bool,
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    options = _options(currency)
    context: dict[str, Any] = {
        "name": name,
        "currency": options.currency or "",
        "replace": replace,
        "skip_bad_rows": skip_bad_rows,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }

    try:
        report = container.rate_plans.import_csv(
            principal,
            name,
            text,
            source="preview",
            options=options,
            replace=replace,
            skip_bad_rows=skip_bad_rows,
            dry_run=True,
        )
    except RateDeckError as exc:
        context.update(report=None, problems=exc.problems[:PREVIEW_ROWS], bad=len(exc.problems))
        context["error"] = exc.message
        return render(request, "rates_preview.html", context, visitor=visitor, status_code=422)
    record = _settings(container, principal, name)
    deck = base64.b64encode(text.encode()).decode("ascii")
    fields = [name, options.currency or "", str(replace), str(skip_bad_rows), report.state, deck]
    context.update(
        report=report,
        record=record,
        problems=report.problems[:PREVIEW_ROWS],
        bad=len(report.problems),
        shown=_by_kind(report.preview),
        kinds=KINDS,
        deck=deck,
        state=report.state,
        digest=_digest(visitor, fields),
    )
    return render(request, "rates_preview.html", context, visitor=visitor)


@router.post("/rates/publish")
def publish(
    request: Request,
    visitor: Writer,
    plan: FormText,
    deck: FormText,
    state: FormText,
    digest: FormText,
    currency: OptionalText = None,
    replace: OptionalText = None,
    skip_bad_rows: OptionalText = None,
) -> Response:
    """Import exactly the previewed deck, if the plan has not changed since (409)."""
    container = container_of(request)
    principal = visitor.principal
    name = plan.strip()
    container.rate_plans.check_import(principal, name)  # who may: 403/404 before the rest
    options = _options(currency)
    fields = [
        name,
        options.currency or "",
        str(_flag(replace)),
        str(_flag(skip_bad_rows)),
        state,
        deck,
    ]
    if not hmac.compare_digest(_digest(visitor, fields), digest):
        raise InvalidInput("the previewed deck was altered: upload it and preview it again")
    try:
        text = base64.b64decode(deck.encode("ascii"), validate=True).decode()
    except (binascii.Error, UnicodeError):
        raise InvalidInput("the previewed deck was altered: upload it again") from None
    report = container.rate_plans.import_csv(
        principal,
        name,
        text,
        source=f"{actor_of(visitor)} (portal upload)",
        options=options,
        replace=_flag(replace),
        skip_bad_rows=_flag(skip_bad_rows),
        expect_state=state,
    )
    return RedirectResponse(
        f"{PREFIX}/rates/{_quoted(name)}?import_id={report.import_id}&done=published",
        status_code=303,
    )


# -- authoring ----------------------------------------------------------------------------


@router.post("/rates/new")
def create_plan(
    request: Request,
    visitor: Writer,
    name: FormText,
    from_plan: OptionalText = None,
    markup_percent: OptionalText = None,
    markup_fixed: OptionalText = None,
    currency: OptionalText = None,
) -> Response:
    """A copy of a plan the visitor may copy (with a markup), or an empty plan."""
    container = container_of(request)
    principal = visitor.principal
    if not _may_author(principal):
        raise Forbidden("rate plans are made by the operator and by resellers")
    wanted = name.strip()
    if from_plan:
        markup = Markup(
            amount_of(markup_percent or "0", "markup_percent"),
            amount_of(markup_fixed or "0", "markup_fixed"),
        )
        container.reseller_plans.copy(principal, CopyRequest(wanted, from_plan, markup))
    else:
        if _settings(container, principal, wanted) is not None:
            raise plan_name_taken(wanted)
        container.rate_plans.import_csv(
            principal,
            wanted,
            "prefix,rate,destination\n",
            source=f"{actor_of(visitor)} (portal: empty plan)",
            options=_options(currency),
            replace=False,
            skip_bad_rows=False,
            expect_state="new",
        )
    return RedirectResponse(f"{PREFIX}/rates/{_quoted(wanted)}?done=created", status_code=303)


@router.post("/rates/{name}/delete")
def delete_plan(request: Request, name: str, visitor: Writer) -> Response:
    """Delete a plan no account is rated by (409 plan_in_use, said on the page)."""
    container_of(request).reseller_plans.delete(visitor.principal, name)
    return RedirectResponse(f"{PREFIX}/rates?done=deleted", status_code=303)


@router.get("/rates/{name}/margin", response_class=HTMLResponse)
def margin(
    request: Request,
    name: str,
    visitor: Visitor,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    """A plan the visitor sells against its buy plan, per destination (read-only)."""
    container = container_of(request)
    page = container.rate_plans.margin(
        visitor.principal,
        name,
        load=container.rating.plan,
        at=datetime.now(UTC),
        after_id=after_id,
        limit=PAGE,
    )
    context = {
        "page": page,
        "next_after": page.rows[-1].sell.id if len(page.rows) == PAGE else None,
    }
    return render(request, "plan_margin.html", context, visitor=visitor)
