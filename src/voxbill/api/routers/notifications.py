"""Notification subscriptions and the deliveries they got (docs/notifications.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from voxbill.api.account_schemas import MAX_ID
from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.notify_schemas import (
    AttemptRead,
    NotificationDetail,
    NotificationPage,
    NotificationRead,
    SubscriptionCreate,
    SubscriptionMadeRead,
    SubscriptionRead,
    TemplatePut,
    TemplateRead,
)
from voxbill.api.problems import responses
from voxbill.api.routers.accounts import AfterId, OptionalLimit, next_after_id
from voxbill.domain.notify import Channel
from voxbill.services.notify.branding import TemplateFields

router = APIRouter(tags=["notifications"])

AccountPath = Annotated[int, Path(ge=1, le=MAX_ID, description="account id")]
IdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
READ = responses(401, 404, 422)
WRITE = responses(401, 403, 404, 422, 503)


@router.post(
    "/accounts/{account_id}/subscriptions",
    status_code=201,
    response_model=SubscriptionMadeRead,
    responses=WRITE,
)
def create_subscription(
    account_id: AccountPath,
    body: SubscriptionCreate,
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> SubscriptionMadeRead:
    """Send the account's events (and, with ``subtree``, those of every account below it)
    to an email address, a phone number (SMS) or a webhook URL. A webhook's signing
    secret is in this answer only. A webhook host that is or resolves to a private,
    loopback, link-local or reserved address is 422 ``webhook_target_forbidden``."""
    made = container.subscriptions.create(
        principal,
        account_id,
        channel=body.channel,
        target=body.target,
        events=list(body.events),
        subtree=body.subtree,
    )
    return SubscriptionMadeRead.made(made)


@router.get(
    "/accounts/{account_id}/subscriptions",
    response_model=list[SubscriptionRead],
    responses=READ,
)
def list_subscriptions(
    account_id: AccountPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    response: Response,
    limit: OptionalLimit = None,
    after_id: AfterId = None,
) -> list[SubscriptionRead]:
    """The account's subscriptions by id: every one, or with ``limit`` a page (then
    ``after_id``: the ``X-Next-After-Id`` header of a full page)."""
    found = container.subscriptions.list(principal, account_id, after_id=after_id, limit=limit)
    next_after_id(response, [s.id for s in found], limit)
    return [SubscriptionRead.of(s) for s in found]


@router.delete("/subscriptions/{subscription_id}", status_code=204, responses=WRITE)
def delete_subscription(
    subscription_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> Response:
    """Stop the subscription; its deliveries not yet sent become ``dead``."""
    container.subscriptions.delete(principal, subscription_id)
    return Response(status_code=204)


@router.get("/accounts/{account_id}/notifications", response_model=NotificationPage, responses=READ)
def list_notifications(
    account_id: AccountPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> NotificationPage:
    """Deliveries for the account's subscriptions, newest first: ``status`` pending,
    failed (to be retried at ``next_attempt_at``), delivered or dead."""
    items = container.subscriptions.notifications(
        principal, account_id, limit=limit, before_id=before_id
    )
    next_before = items[-1].id if len(items) == limit else None
    return NotificationPage(
        items=[NotificationRead.of(d) for d in items], next_before_id=next_before
    )


@router.get("/notifications/{notification_id}", response_model=NotificationDetail, responses=READ)
def get_notification(
    notification_id: IdPath, principal: CurrentPrincipal, container: ContainerDep
) -> NotificationDetail:
    """One delivery with every attempt made at it."""
    delivery, attempts = container.subscriptions.attempts(principal, notification_id)
    return NotificationDetail(
        **NotificationRead.of(delivery).model_dump(),
        attempt_log=[AttemptRead.of(a) for a in attempts],
    )


@router.post(
    "/notifications/{notification_id}/retry",
    response_model=NotificationRead,
    responses=responses(401, 403, 404, 409, 422),
)
def retry_notification(
    notification_id: IdPath, principal: CurrentPrincipal, container: ContainerDep
) -> NotificationRead:
    """Send a ``dead`` delivery once more, at the worker's next run (``pending``, due
    now; its attempts count on, so one more failure leaves it dead). 409 when it is not
    dead or its subscription was deleted. Who may: as for managing subscriptions."""
    return NotificationRead.of(container.subscriptions.retry(principal, notification_id))


EventTypePath = Annotated[str, Path(min_length=1, max_length=64, description='event type or "*"')]
TEMPLATE_PATH = "/accounts/{account_id}/templates/{event_type}/{channel}"


@router.put(TEMPLATE_PATH, response_model=TemplateRead, responses=WRITE)
def put_template(
    account_id: AccountPath,
    event_type: EventTypePath,
    channel: Channel,
    body: TemplatePut,
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> TemplateRead:
    """An operator's or reseller's own subject, text and sender for one event type ("*":
    every type) on email or sms: used for every subscriber below it, unless a nearer
    reseller set its own. Templates are Jinja2, rendered in a sandbox; one that does not
    compile is 422 ``invalid_template``."""
    fields = TemplateFields(body.subject, body.body, body.sender_name, body.sender_address)
    made = container.notify_templates.put(principal, account_id, event_type, channel, fields)
    return TemplateRead.of(made)


@router.get(TEMPLATE_PATH, response_model=TemplateRead, responses=READ)
def get_template(
    account_id: AccountPath,
    event_type: EventTypePath,
    channel: Channel,
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> TemplateRead:
    found = container.notify_templates.get(principal, account_id, event_type, channel)
    return TemplateRead.of(found)


@router.delete(TEMPLATE_PATH, status_code=204, responses=WRITE)
def delete_template(
    account_id: AccountPath,
    event_type: EventTypePath,
    channel: Channel,
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> Response:
    container.notify_templates.delete(principal, account_id, event_type, channel)
    return Response(status_code=204)


@router.get("/accounts/{account_id}/templates", response_model=list[TemplateRead], responses=READ)
def list_templates(
    account_id: AccountPath, principal: CurrentPrincipal, container: ContainerDep
) -> list[TemplateRead]:
    return [TemplateRead.of(t) for t in container.notify_templates.list(principal, account_id)]
