"""Calling-card batches and the holder's view of a card (``docs/cards.md``).

A batch is visible to its owner and the owner's ancestors (anyone else: 404); support
keys read only. ``POST /card-batches`` answers the printer's CSV with the PINs once:
they are stored as argon2id hashes, so ``GET /card-batches/{id}/export`` has serials
and states only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from voxbill.api.account_schemas import MAX_ID
from voxbill.api.auth import CurrentPrincipal
from voxbill.api.card_schemas import (
    ActivationRead,
    CardBatchCreate,
    CardBatchCreated,
    CardBatchPage,
    CardBatchRead,
    CardHolderAsk,
    CardHolderRead,
    CardRange,
    DeactivationRead,
)
from voxbill.api.deps import ContainerDep
from voxbill.api.problems import responses
from voxbill.domain import cards as rules

router = APIRouter(tags=["cards"])

BatchPath = Annotated[int, Path(ge=1, le=MAX_ID, description="card batch id")]
READ = responses(401, 404, 422)
WRITE = responses(401, 402, 403, 404, 409, 422, 503)


@router.post("/card-batches", status_code=201, response_model=CardBatchCreated, responses=WRITE)
def create_batch(
    body: CardBatchCreate, principal: CurrentPrincipal, container: ContainerDep
) -> CardBatchCreated:
    """Generate ``count`` inactive cards (no money on them) under ``owner_id``; the
    response's ``csv`` is the only time their PINs are shown. All or nothing."""
    request = body.request()
    return CardBatchCreated.of_generated(container.cards.generate(principal, request))


@router.get("/card-batches", response_model=CardBatchPage, responses=READ)
def list_batches(
    principal: CurrentPrincipal,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> CardBatchPage:
    items = container.cards.batches(principal, after_id=after_id, limit=limit)
    next_after = items[-1].id if len(items) == limit else None
    return CardBatchPage(items=[CardBatchRead.of(b) for b in items], next_after_id=next_after)


@router.get("/card-batches/{batch_id}", response_model=CardBatchRead, responses=READ)
def read_batch(
    batch_id: BatchPath, principal: CurrentPrincipal, container: ContainerDep
) -> CardBatchRead:
    """The batch with its counts: inactive, active, used, expired, remaining value."""
    return CardBatchRead.of(*container.cards.batch(principal, batch_id))


@router.get(
    "/card-batches/{batch_id}/export",
    response_class=Response,
    responses={**READ, 200: {"content": {"text/csv": {}}}},
)
def export_batch(
    batch_id: BatchPath, principal: CurrentPrincipal, container: ContainerDep
) -> Response:
    """The batch's cards without PINs: serial, state, face_value, currency,
    activated_at, expires_at."""
    batch, cards = container.cards.serials(principal, batch_id)
    return Response(
        rules.serials_csv(batch, cards),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="card-batch-{batch.id}.csv"'},
    )


@router.post("/card-batches/{batch_id}/activate", response_model=ActivationRead, responses=WRITE)
def activate_batch(
    batch_id: BatchPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    body: CardRange | None = None,
) -> ActivationRead:
    """Activate the batch's inactive cards (all, or ``from_serial``..``to_serial``),
    putting the face value on each never-funded one through the ledger. Idempotent:
    again, nothing is funded twice."""
    span = body or CardRange()
    activation = container.cards.activate(principal, batch_id, span.from_serial, span.to_serial)
    return ActivationRead.of(activation)


@router.post(
    "/card-batches/{batch_id}/deactivate", response_model=DeactivationRead, responses=WRITE
)
def deactivate_batch(
    batch_id: BatchPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    body: CardRange | None = None,
) -> DeactivationRead:
    """Stop the active cards of the range from calling (their money stays on them)."""
    span = body or CardRange()
    count = container.cards.deactivate(principal, batch_id, span.from_serial, span.to_serial)
    return DeactivationRead(batch_id=batch_id, deactivated=count)


@router.post(
    "/cards/balance",
    response_model=CardHolderRead,
    responses=responses(401, 403, 404, 422, 429, 503),
)
def card_balance(
    body: CardHolderAsk, principal: CurrentPrincipal, container: ContainerDep
) -> CardHolderRead:
    """A card's balance, state, expiry and latest movements, for its number and PIN
    (asked by a key whose subtree holds the card: an IVR, a reseller's web page). The
    PIN is checked under the same guess budgets as a call's, counted against the key;
    an unknown card (or one outside the key's subtree) is 404 ``not_found``."""
    asker = f"key:{principal.key_id}" if principal.key_id is not None else None
    view = container.cards.holder_view(
        body.card,
        body.pin,
        operator_id=principal.operator_id,
        within=principal.path,
        asker=asker,
    )
    return CardHolderRead.of(view)
