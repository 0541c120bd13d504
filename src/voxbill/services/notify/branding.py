"""An operator's or reseller's own templates and sender, so that its customers hear from
it: set on the operator or reseller account, used for every subscriber below it unless
a nearer reseller set its own (``domain.notify.nearest_template``)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from voxbill.domain import access
from voxbill.domain.access import Principal
from voxbill.domain.accounts import Account, AccountKind
from voxbill.domain.errors import InvalidInput, NotFound
from voxbill.domain.notify import (
    ANY_EVENT,
    EVENT_TYPES,
    Channel,
    NotifyTemplate,
    check_target,
)
from voxbill.services.notify.delivery import Clock, utc_now
from voxbill.services.notify.templates import check_template
from voxbill.services.unit_of_work import Transaction, UnitOfWork

_BRANDED = frozenset({AccountKind.OPERATOR, AccountKind.RESELLER})


def has_templates(account: Account) -> bool:
    """Whether the account can have its own templates (operators and resellers)."""
    return account.kind in _BRANDED


@dataclass(frozen=True, slots=True)
class TemplateFields:
    subject: str | None
    body: str | None
    sender_name: str | None
    sender_address: str | None


def _key(event_type: str, channel: Channel) -> None:
    if event_type != ANY_EVENT and event_type not in EVENT_TYPES:
        raise InvalidInput(f"unknown event type {event_type!r} (or '*' for every type)")
    if channel is Channel.WEBHOOK:
        raise InvalidInput("webhooks carry the event itself: templates are for email and sms")


class TemplateService:
    def __init__(self, uow: UnitOfWork, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    @staticmethod
    def _account(
        tx: Transaction, principal: Principal, account_id: int, *, write: bool = False
    ) -> None:
        """Visible (404), writable when ``write`` (403), an operator or reseller (422)."""
        account = access.require_visible(principal, tx.accounts.get(account_id))
        if write:
            access.require_write(principal)
        if not has_templates(account):
            raise InvalidInput("templates are set on operator and reseller accounts")

    def put(
        self,
        principal: Principal,
        account_id: int,
        event_type: str,
        channel: Channel,
        fields: TemplateFields,
    ) -> NotifyTemplate:
        _key(event_type, channel)
        name = fields.sender_name
        if name is not None and any(c in name for c in "\r\n"):
            raise InvalidInput("a sender name is one line")
        address = fields.sender_address
        if address is not None:
            address = check_target(Channel.EMAIL, address)
        template = NotifyTemplate(
            account_id=account_id,
            event_type=event_type,
            channel=channel,
            subject=check_template(fields.subject, "subject"),
            body=check_template(fields.body, "body"),
            sender_name=name,
            sender_address=address,
            updated_at=self._clock(),
        )
        with self._uow.transaction() as tx:
            self._account(tx, principal, account_id, write=True)
            tx.notify.put_template(template)
        return template

    def get(
        self, principal: Principal, account_id: int, event_type: str, channel: Channel
    ) -> NotifyTemplate:
        with self._uow.transaction(readonly=True) as tx:
            self._account(tx, principal, account_id)
            found = tx.notify.template(account_id, event_type, channel.value)
        if found is None:
            raise NotFound("no template set for this event type and channel")
        return found

    def list(self, principal: Principal, account_id: int) -> builtins.list[NotifyTemplate]:
        with self._uow.transaction(readonly=True) as tx:
            self._account(tx, principal, account_id)
            return tx.notify.account_templates(account_id)

    def delete(
        self, principal: Principal, account_id: int, event_type: str, channel: Channel
    ) -> None:
        with self._uow.transaction() as tx:
            self._account(tx, principal, account_id, write=True)
            if not tx.notify.delete_template(account_id, event_type, channel.value):
                raise NotFound("no template set for this event type and channel")
