"""Bodies of the notification endpoints: subscriptions and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.api.schemas import PlainText
from voxbill.domain.notify import (
    Attempt,
    Channel,
    Delivery,
    DeliveryStatus,
    NotifyTemplate,
    Subscription,
)
from voxbill.services.notify.subscriptions import SubscriptionMade

EventType = Annotated[PlainText, StringConstraints(min_length=1, max_length=64)]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    target: Annotated[PlainText, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="email address, E.164 number (+…), or http(s) URL"
    )
    events: list[EventType] = Field(min_length=1, max_length=32)
    subtree: bool = Field(
        default=False, description="also the events of every account below this one"
    )


class SubscriptionRead(BaseModel):
    id: int
    account_id: int
    channel: Channel
    target: str
    events: list[str]
    subtree: bool
    created_at: datetime

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionRead:
        return cls(
            id=s.id,
            account_id=s.account_id,
            channel=s.channel,
            target=s.target,
            events=list(s.events),
            subtree=s.subtree,
            created_at=s.created_at,
        )


class SubscriptionMadeRead(SubscriptionRead):
    secret: str | None = Field(
        default=None,
        description="webhooks: the signing secret (Voxbill-Signature); shown this once",
    )

    @classmethod
    def made(cls, made: SubscriptionMade) -> SubscriptionMadeRead:
        return cls(**SubscriptionRead.of(made.subscription).model_dump(), secret=made.secret)


class NotificationRead(BaseModel):
    id: int
    event_id: int
    type: str
    account_id: int | None = Field(description="the account the event is about")
    subscription_id: int
    channel: Channel
    target: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, d: Delivery) -> NotificationRead:
        return cls(
            id=d.id,
            event_id=d.event_id,
            type=d.type,
            account_id=d.event_account_id,
            subscription_id=d.subscription_id,
            channel=d.channel,
            target=d.target,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    next_before_id: int | None


class AttemptRead(BaseModel):
    number: int
    at: datetime
    ok: bool
    error: str | None
    worker: str

    @classmethod
    def of(cls, a: Attempt) -> AttemptRead:
        return cls(number=a.number, at=a.at, ok=a.ok, error=a.error, worker=a.worker)


class NotificationDetail(NotificationRead):
    attempt_log: list[AttemptRead]


class TemplatePut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="email subject (Jinja2, sandboxed); null: the default"
    )
    body: Annotated[str, StringConstraints(max_length=20_000)] | None = Field(
        default=None, description="email body or SMS text (Jinja2, sandboxed); null: default"
    )
    sender_name: Annotated[PlainText, StringConstraints(max_length=200)] | None = None
    sender_address: Annotated[PlainText, StringConstraints(max_length=254)] | None = Field(
        default=None, description="email From address; null: the server's VOXBILL_MAIL_FROM"
    )


class TemplateRead(BaseModel):
    account_id: int
    event_type: str
    channel: Channel
    subject: str | None
    body: str | None
    sender_name: str | None
    sender_address: str | None
    updated_at: datetime

    @classmethod
    def of(cls, t: NotifyTemplate) -> TemplateRead:
        return cls(
            account_id=t.account_id,
            event_type=t.event_type,
            channel=t.channel,
            subject=t.subject,
            body=t.body,
            sender_name=t.sender_name,
            sender_address=t.sender_address,
            updated_at=t.updated_at,
        )
