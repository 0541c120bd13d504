"""SMS: charge one message (idempotent by message_id), list charged messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from voxbill.api.account_schemas import MAX_ID
from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep, container_of, in_thread, model_response
from voxbill.api.problems import responses
from voxbill.api.sms_schemas import SmsCreate, SmsPage, SmsRead

router = APIRouter(tags=["sms"])

REPLAYED = "Idempotent-Replayed"


@router.post(
    "/sms",
    status_code=201,
    response_model=SmsRead,
    responses={
        200: {"description": "a retry of a charged message: the first answer, replayed"},
        **responses(401, 402, 403, 404, 409, 422, 429, 503),
    },
)
async def send_sms(body: SmsCreate, principal: CurrentPrincipal, request: Request) -> Response:
    """Charge one message at every level of the sender's chain that has an SMS plan.

    Refused: 403 `unknown_sender`, `blocked`, `messaging_disabled`; 404 `no_rate`;
    402 `insufficient_funds`; 429 `rate_limited` (with Retry-After). Nothing is charged
    when refused.
    """
    messaging, message = container_of(request).messaging, body.request()
    receipt = await in_thread(lambda: messaging.send(principal, message))
    if receipt.replayed:
        return model_response(SmsRead.of(receipt), headers={REPLAYED: "true"})
    return model_response(SmsRead.of(receipt), status_code=201)


@router.get("/messages", response_model=SmsPage, responses=responses(401, 404, 422))
def list_messages(
    principal: CurrentPrincipal,
    container: ContainerDep,
    account_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> SmsPage:
    """Charged messages of the key's subtree (or of one account in it), newest first."""
    receipts = container.messaging.messages(
        principal, account_id=account_id, before_id=before_id, limit=limit
    )
    next_before = receipts[-1].id if len(receipts) == limit else None
    return SmsPage(items=[SmsRead.of(r) for r in receipts], next_before_id=next_before)
