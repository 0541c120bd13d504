"""An account's alerts: its subscriptions (email, SMS, webhook), the deliveries they got
(dead letters marked) with each one's attempts, and an operator's or reseller's own
templates. The same services and rules as ``/api/v1/.../subscriptions``,
``.../notifications`` and ``.../templates`` (docs/notifications.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.deps import container_of
from voxbill.domain import access
from voxbill.domain.errors import InvalidInput, NotFound
from voxbill.domain.notify import ANY_EVENT, EVENT_TYPES, Channel, DeliveryStatus
from voxbill.portal.pages.common import (
    PAGE,
    AfterId,
    FormText,
    OptionalText,
    can,
    listed,
    page_router,
    paged,
)
from voxbill.portal.web import PREFIX, Visitor, Writer, render
from voxbill.services.notify.branding import TemplateFields, has_templates
from voxbill.services.notify.subscriptions import require_manage
from voxbill.services.notify.templates import DEFAULTS, FALLBACK

router = page_router()

EventPath = Annotated[str, Path(min_length=1, max_length=64)]
#: the channels a template is for (webhooks carry the event itself)
TEMPLATE_CHANNELS = (Channel.EMAIL, Channel.SMS)


def _channel(text: str, allowed: tuple[Channel, ...] = tuple(Channel)) -> Channel:
    try:
        channel = Channel(text)
    except ValueError:
        channel = None
    if channel is None or channel not in allowed:
        raise InvalidInput(f"channel: one of {', '.join(c.value for c in allowed)}")
    return channel


def _to_notifications(account_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(
        f"{PREFIX}/accounts/{account_id}/notifications?done={done}", status_code=303
    )


@router.get("/accounts/{account_id}/notifications", response_class=HTMLResponse)
def notifications(
    request: Request,
    account_id: int,
    visitor: Visitor,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    subscriptions_after: AfterId = None,
) -> Response:
    """Subscriptions (``PAGE`` a page by id: ``subscriptions_after``), the form for a
    new one, and the deliveries (newest first, ``before_id``)."""
    container = container_of(request)
    principal = visitor.principal
    account = container.accounts.visible(principal, account_id)
    subscriptions, next_subscriptions = paged(
        container.subscriptions.list(
            principal, account.id, after_id=subscriptions_after, limit=PAGE + 1
        )
    )
    deliveries = container.subscriptions.notifications(
        principal, account.id, limit=PAGE, before_id=before_id
    )
    context = {
        "account": account,
        "subscriptions": subscriptions,
        "next_subscriptions": next_subscriptions,
        "deliveries": deliveries,
        "next_before": deliveries[-1].id if len(deliveries) == PAGE else None,
        "manage": can(lambda: require_manage(principal)),
        "templates": has_templates(account),
        "event_types": EVENT_TYPES,
        "channels": tuple(Channel),
        "DEAD": DeliveryStatus.DEAD,
    }
    return render(request, "notify.html", context, visitor=visitor)


@router.post("/accounts/{account_id}/subscriptions", response_class=HTMLResponse)
def create_subscription(
    request: Request,
    account_id: int,
    visitor: Writer,
    channel: FormText,
    target: FormText,
    events: Annotated[list[str] | None, Form()] = None,
    subtree: OptionalText = None,
) -> Response:
    """A new subscription; a webhook's signing secret is shown on this page only."""
    container = container_of(request)
    made = container.subscriptions.create(
        visitor.principal,
        account_id,
        channel=_channel(channel),
        target=target.strip(),
        events=list(events or []),
        subtree=bool(subtree),
    )
    context = {"account_id": account_id, "made": made.subscription, "secret": made.secret}
    return render(request, "notify_made.html", context, visitor=visitor, status_code=201)


@router.post("/accounts/{account_id}/subscriptions/{subscription_id}/delete")
def delete_subscription(
    request: Request, account_id: int, subscription_id: int, visitor: Writer
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    found = container.subscriptions.list(
        principal, account_id, after_id=subscription_id - 1, limit=1
    )
    if not listed(found, subscription_id):
        raise NotFound("subscription not found")
    container.subscriptions.delete(principal, subscription_id)
    return _to_notifications(account_id, "subscription-deleted")


@router.get("/notifications/{notification_id}", response_class=HTMLResponse)
def notification(request: Request, notification_id: int, visitor: Visitor) -> Response:
    """One delivery with every attempt made at it."""
    container = container_of(request)
    delivery, attempts = container.subscriptions.attempts(visitor.principal, notification_id)
    context = {
        "d": delivery,
        "attempts": attempts,
        "DEAD": DeliveryStatus.DEAD,
        "retry": delivery.status is DeliveryStatus.DEAD
        and can(lambda: require_manage(visitor.principal)),
    }
    return render(request, "notify_detail.html", context, visitor=visitor)


@router.post("/notifications/{notification_id}/retry")
def retry(request: Request, notification_id: int, visitor: Writer) -> Response:
    """Send a dead letter once more at the next delivery run (409 page otherwise)."""
    container_of(request).subscriptions.retry(visitor.principal, notification_id)
    return RedirectResponse(
        f"{PREFIX}/notifications/{notification_id}?done=retry-queued", status_code=303
    )


# -- templates ------------------------------------------------------------------------------


def _template_controls(request: Request, visitor: Visitor, account_id: int) -> bool:
    account = container_of(request).accounts.visible(visitor.principal, account_id)
    if not has_templates(account):
        raise InvalidInput("templates are set on operator and reseller accounts")
    return can(lambda: access.require_write(visitor.principal))


@router.get("/accounts/{account_id}/templates", response_class=HTMLResponse)
def templates(request: Request, account_id: int, visitor: Visitor) -> Response:
    container = container_of(request)
    writable = _template_controls(request, visitor, account_id)
    context = {
        "account_id": account_id,
        "own": container.notify_templates.list(visitor.principal, account_id),
        "writable": writable,
        "event_types": (ANY_EVENT, *EVENT_TYPES),
        "channels": TEMPLATE_CHANNELS,
    }
    return render(request, "notify_templates.html", context, visitor=visitor)


@router.get("/accounts/{account_id}/templates/{event_type}/{channel}", response_class=HTMLResponse)
def template(
    request: Request, account_id: int, event_type: EventPath, channel: str, visitor: Visitor
) -> Response:
    """One template: the account's own, or the default it would replace."""
    container = container_of(request)
    writable = _template_controls(request, visitor, account_id)
    which = _channel(channel, TEMPLATE_CHANNELS)
    if event_type != ANY_EVENT and event_type not in EVENT_TYPES:
        raise NotFound(f"unknown event type {event_type!r}")
    own = {
        (t.event_type, t.channel): t
        for t in container.notify_templates.list(visitor.principal, account_id)
    }.get((event_type, which))
    default = DEFAULTS.get(event_type, FALLBACK)
    context = {
        "account_id": account_id,
        "event_type": event_type,
        "channel": which,
        "own": own,
        "default": default,
        "writable": writable,
    }
    return render(request, "notify_template.html", context, visitor=visitor)


def _blank(text: str | None) -> str | None:
    return text if text and text.strip() else None


@router.post("/accounts/{account_id}/templates/{event_type}/{channel}")
def put_template(
    request: Request,
    account_id: int,
    event_type: EventPath,
    channel: str,
    visitor: Writer,
    subject: OptionalText = None,
    body: OptionalText = None,
    sender_name: OptionalText = None,
    sender_address: OptionalText = None,
) -> Response:
    """Set the account's own template (invalid Jinja2: 422 ``invalid_template``)."""
    container = container_of(request)
    which = _channel(channel, TEMPLATE_CHANNELS)
    if subject is not None and len(subject) > 500:
        raise InvalidInput("subject longer than 500 characters")
    fields = TemplateFields(
        _blank(subject),
        _blank(body),
        _blank(sender_name and sender_name.strip()),
        _blank(sender_address and sender_address.strip()),
    )
    container.notify_templates.put(visitor.principal, account_id, event_type, which, fields)
    return RedirectResponse(
        f"{PREFIX}/accounts/{account_id}/templates/{event_type}/{which.value}?done=saved",
        status_code=303,
    )


@router.post("/accounts/{account_id}/templates/{event_type}/{channel}/reset")
def reset_template(
    request: Request, account_id: int, event_type: EventPath, channel: str, visitor: Writer
) -> Response:
    """Back to the default (the account's own template deleted)."""
    container = container_of(request)
    which = _channel(channel, TEMPLATE_CHANNELS)
    container.notify_templates.delete(visitor.principal, account_id, event_type, which)
    return RedirectResponse(
        f"{PREFIX}/accounts/{account_id}/templates?done=reset-to-default", status_code=303
    )
