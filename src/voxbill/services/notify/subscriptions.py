"""Subscriptions and the deliveries they got, under the API's tenancy rules.

A key manages the subscriptions of the accounts in its subtree (a reseller its
customers', a customer its own); a support key only reads; a user key only reads; an
account outside the key's subtree does not exist for it (404). A webhook's secret is
made here and answered once, at creation.
"""

from __future__ import annotations

import builtins
import secrets
from dataclasses import dataclass

from voxbill.domain import access
from voxbill.domain.access import Principal, Role
from voxbill.domain.dashboard import require_overseer
from voxbill.domain.errors import Conflict, Forbidden, NotFound
from voxbill.domain.notify import (
    Attempt,
    Channel,
    Delivery,
    DeliveryStatus,
    NewSubscription,
    Subscription,
    check_events,
    check_target,
)
from voxbill.services.notify.channels import Channels
from voxbill.services.notify.delivery import Clock, utc_now
from voxbill.services.unit_of_work import Transaction, UnitOfWork


@dataclass(frozen=True, slots=True)
class SubscriptionMade:
    subscription: Subscription
    #: a webhook's signing secret: shown this once
    secret: str | None


def require_manage(principal: Principal) -> None:
    """Who may create and delete subscriptions (403): not support, not a user key."""
    access.require_write(principal)
    if principal.role is Role.USER:
        raise Forbidden("a user key cannot manage notifications")


class SubscriptionService:
    def __init__(self, uow: UnitOfWork, channels: Channels, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._channels = channels
        self._clock = clock

    @staticmethod
    def _visible(tx: Transaction, principal: Principal, account_id: int) -> None:
        access.require_visible(principal, tx.accounts.get(account_id))

    def create(
        self,
        principal: Principal,
        account_id: int,
        *,
        channel: Channel,
        target: str,
        events: list[str],
        subtree: bool,
    ) -> SubscriptionMade:
        with self._uow.transaction(readonly=True) as tx:
            self._visible(tx, principal, account_id)
        require_manage(principal)
        target = check_target(channel, target)
        event_types = check_events(events)
        self._channels[channel].check_target(target)  # SSRF: resolves a webhook's host
        secret = f"whsec_{secrets.token_urlsafe(32)}" if channel is Channel.WEBHOOK else None
        new = NewSubscription(
            account_id, channel, target, event_types, subtree, secret, self._clock()
        )
        with self._uow.transaction() as tx:
            self._visible(tx, principal, account_id)
            made = tx.notify.add_subscription(new)
        return SubscriptionMade(made, secret)

    def list(
        self,
        principal: Principal,
        account_id: int,
        *,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> builtins.list[Subscription]:
        """The account's live subscriptions in id order (a page: those after
        ``after_id``, at most ``limit``; every one when no limit)."""
        with self._uow.transaction(readonly=True) as tx:
            self._visible(tx, principal, account_id)
            return tx.notify.subscriptions(account_id, after_id=after_id, limit=limit)

    def delete(self, principal: Principal, subscription_id: int) -> Subscription:
        with self._uow.transaction() as tx:
            found = tx.notify.subscription(subscription_id)
            if found is None or not found.account_path.startswith(principal.path):
                raise NotFound("subscription not found")
            require_manage(principal)
            tx.notify.delete_subscription(subscription_id, self._clock())
        return found

    def notifications(
        self, principal: Principal, account_id: int, *, limit: int, before_id: int | None
    ) -> builtins.list[Delivery]:
        """The deliveries made for the account's subscriptions, newest first."""
        with self._uow.transaction(readonly=True) as tx:
            self._visible(tx, principal, account_id)
            return tx.notify.deliveries(account_id, limit=limit, before_id=before_id)

    def failed_deliveries(self, principal: Principal) -> dict[str, int]:
        """How many deliveries of the principal's subtree's subscriptions failed:
        ``failed`` (another attempt is due) and ``dead`` (given up)."""
        require_overseer(principal)
        with self._uow.transaction(readonly=True) as tx:
            return tx.notify.failed_under(principal.path)

    def retry(self, principal: Principal, delivery_id: int) -> Delivery:
        """Send a dead delivery once more, at the next worker run (409 when it is not
        dead or its subscription was deleted). Its attempts count on: one more failure
        leaves it dead again."""
        with self._uow.transaction() as tx:
            delivery = tx.notify.delivery(delivery_id)
            if delivery is None:
                raise NotFound("notification not found")
            account = tx.accounts.get(delivery.account_id)
            access.require_visible(principal, account, "notification")
            require_manage(principal)
            if delivery.status is not DeliveryStatus.DEAD:
                said = f"only a dead notification is retried (this one is {delivery.status})"
                raise Conflict(said)
            if not tx.notify.retry_delivery(delivery_id, self._clock()):
                raise Conflict("its subscription was deleted: it cannot be retried")
            found = tx.notify.delivery(delivery_id)
        assert found is not None
        return found

    def retry_system(self, delivery_id: int) -> Delivery:
        """For the command line, which runs with the operator's own authority."""
        with self._uow.transaction(readonly=True) as tx:
            delivery = tx.notify.delivery(delivery_id)
            account = None if delivery is None else tx.accounts.get(delivery.account_id)
        if account is None:
            raise NotFound("notification not found")
        root = Principal(account.operator_id, f"/{account.operator_id}/", Role.ADMIN)
        return self.retry(root, delivery_id)

    def attempts(
        self, principal: Principal, delivery_id: int
    ) -> tuple[Delivery, builtins.list[Attempt]]:
        with self._uow.transaction(readonly=True) as tx:
            delivery = tx.notify.delivery(delivery_id)
            if delivery is None:
                raise NotFound("notification not found")
            account = tx.accounts.get(delivery.account_id)
            access.require_visible(principal, account, "notification")
            return delivery, tx.notify.attempts(delivery_id)
