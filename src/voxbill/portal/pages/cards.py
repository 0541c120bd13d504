"""Calling-card batches (the API's ``/card-batches``, ``docs/cards.md``): the batches in
the visitor's subtree, generating one (the printer's CSV with the PINs is shown once, on
the page that answers the form: they are stored hashed; the form carries a one-time
key, so posting it twice generates one batch and the second answer is the batch's page),
a batch's counts with its activate, deactivate and delete forms (delete: while no card
of it was ever activated), and the export of its serials (no PINs, as the API's).
A card holder's own page is the portal's home."""

from __future__ import annotations

from functools import partial
from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.card_schemas import CardBatchCreate, CardRange
from voxbill.api.deps import container_of
from voxbill.api.idempotency import checked, scope
from voxbill.domain import access
from voxbill.domain import cards as rules
from voxbill.domain.access import Role
from voxbill.domain.accounts import AccountKind
from voxbill.domain.cards import Funding
from voxbill.portal.pages.common import PAGE, FormText, OptionalText, can, page_router, when_of
from voxbill.portal.pages.settings import validated
from voxbill.portal.web import PREFIX, Visitor, Writer, new_form_key, render
from voxbill.services.cards.service import check_manage

router = page_router()


@router.get("/cards", response_class=HTMLResponse)
def batches(
    request: Request,
    visitor: Visitor,
    after_id: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    found = container.cards.batches(principal, after_id=after_id, limit=PAGE + 1)
    rows, more = found[:PAGE], len(found) > PAGE
    context = {
        "rows": rows,
        "next_after": rows[-1].id if more else None,
        "can_generate": can(partial(access.check_create, principal, AccountKind.CARD)),
        "admin": principal.role is Role.ADMIN,
        "fundings": [f.value for f in Funding],
        "max_count": rules.MAX_REST_BATCH_SIZE,
        "pin_lengths": range(rules.MIN_PIN_LENGTH, rules.MAX_PIN_LENGTH + 1),
        "default_pin": rules.DEFAULT_PIN_LENGTH,
        "form_key": new_form_key(),
    }
    return render(request, "cards.html", context, visitor=visitor)


@router.post("/cards", response_class=HTMLResponse)
def generate(
    request: Request,
    visitor: Writer,
    owner_id: FormText,
    count: FormText,
    face_value: FormText,
    currency: OptionalText = None,
    rate_plan: OptionalText = None,
    expires_at: OptionalText = None,
    valid_days: OptionalText = None,
    pin_length: OptionalText = None,
    funding: OptionalText = None,
    name: OptionalText = None,
    form_key: OptionalText = None,
) -> Response:
    """Generate a batch (all or nothing) and show its printer's CSV, once. The form's
    hidden key makes a second post of it answer the batch's page (its PINs were shown by
    the first answer); the key with other values is refused (409)."""
    container = container_of(request)
    data = {
        "owner_id": owner_id.strip(),
        "count": count.strip(),
        "face_value": face_value.strip(),
        "currency": (currency or "").strip() or None,
        "rate_plan": (rate_plan or "").strip() or None,
        "expires_at": when_of((expires_at or "").strip() or None, "expires_at"),
        "valid_days": (valid_days or "").strip() or None,
        "pin_length": (pin_length or "").strip() or rules.DEFAULT_PIN_LENGTH,
        "funding": (funding or "").strip() or None,
        "name": (name or "").strip() or None,
    }
    body = validated(CardBatchCreate, data)
    key = checked(form_key or None)
    generated = container.cards.generate(
        visitor.principal,
        body.request(),
        idempotency_key=key,
        idempotency_scope=scope(visitor.principal) if key is not None else None,
    )
    csv_text = generated.csv
    if csv_text is None:  # the same form again: the batch is made, its PINs shown once
        return RedirectResponse(
            f"{PREFIX}/cards/{generated.batch.id}?done=already+generated+by+this+form",
            status_code=303,
        )
    context = {
        "batch": generated.batch,
        "csv_text": csv_text,
        "download": "data:text/csv;charset=utf-8," + quote(csv_text),
    }
    return render(request, "cards_created.html", context, visitor=visitor, status_code=201)


@router.get("/cards/{batch_id}", response_class=HTMLResponse)
def batch_page(request: Request, batch_id: int, visitor: Visitor) -> Response:
    container = container_of(request)
    principal = visitor.principal
    batch, counts = container.cards.batch(principal, batch_id)
    owner = container.accounts.visible(principal, batch.owner_id)
    can_manage = can(partial(check_manage, principal, owner, batch))
    context = {
        "batch": batch,
        "counts": counts,
        "owner": owner,
        "can_manage": can_manage,
        "deletable": can_manage and container.cards.in_use(principal, batch.id) is None,
    }
    return render(request, "cards_batch.html", context, visitor=visitor)


def _span(from_serial: str | None, to_serial: str | None) -> CardRange:
    data = {
        "from_serial": (from_serial or "").strip() or None,
        "to_serial": (to_serial or "").strip() or None,
    }
    return validated(CardRange, data)


@router.post("/cards/{batch_id}/activate")
def activate(
    request: Request,
    batch_id: int,
    visitor: Writer,
    from_serial: OptionalText = None,
    to_serial: OptionalText = None,
) -> Response:
    """Activate the range's inactive cards, funding the never-funded ones (once, ever:
    posting the form again funds nothing twice)."""
    span = _span(from_serial, to_serial)
    done = container_of(request).cards.activate(
        visitor.principal, batch_id, span.from_serial, span.to_serial
    )
    return RedirectResponse(
        f"{PREFIX}/cards/{batch_id}?done={done.activated}+activated,+{done.funded}+funded",
        status_code=303,
    )


@router.post("/cards/{batch_id}/deactivate")
def deactivate(
    request: Request,
    batch_id: int,
    visitor: Writer,
    from_serial: OptionalText = None,
    to_serial: OptionalText = None,
) -> Response:
    span = _span(from_serial, to_serial)
    count = container_of(request).cards.deactivate(
        visitor.principal, batch_id, span.from_serial, span.to_serial
    )
    return RedirectResponse(f"{PREFIX}/cards/{batch_id}?done={count}+deactivated", status_code=303)


@router.post("/cards/{batch_id}/delete")
def delete(request: Request, batch_id: int, visitor: Writer) -> Response:
    """Remove a batch none of whose cards was ever activated (409 page otherwise)."""
    deleted = container_of(request).cards.delete(visitor.principal, batch_id)
    return RedirectResponse(f"{PREFIX}/cards?done=batch+{deleted.id}+deleted", status_code=303)


@router.get("/cards/{batch_id}/export")
def export(request: Request, batch_id: int, visitor: Visitor) -> Response:
    """The batch's serials and states, without PINs (as ``GET /card-batches/{id}/export``)."""
    batch, cards = container_of(request).cards.serials(visitor.principal, batch_id)
    return Response(
        rules.serials_csv(batch, cards),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="card-batch-{batch.id}.csv"'},
    )
