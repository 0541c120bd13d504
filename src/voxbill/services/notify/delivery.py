"""The delivery worker: fan the outbox out into deliveries, then send what is due.

At least once, never again after a recorded success:

* fan-out takes outbox events not yet fanned out (locked, ``SKIP LOCKED`` on
  PostgreSQL), inserts one delivery per wanting subscription (unique per event and
  subscription) and marks the events, in one transaction: an event is fanned out once.
* a worker claims due deliveries for a lease (``SKIP LOCKED``: two workers never claim
  the same one), commits the claim, sends outside any transaction, then records the
  attempt. A success is recorded as ``delivered`` and never claimed again. A worker
  killed between sending and recording leaves its lease to run out; another worker
  then sends again — the receiver sees the event twice and de-duplicates it by its
  ``id``. A failure is retried with exponential backoff and jitter, ``dead`` after the
  last attempt allowed.

The clock and the random source are injected: tests drive time, never sleep.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from voxbill.domain.notify import (
    Backoff,
    Channel,
    DeliveryJob,
    DeliveryStatus,
    Event,
    NotifyTemplate,
    event_type_of,
    nearest_template,
)
from voxbill.services.notify.channels import Channels, DeliveryFailed, OutgoingMessage
from voxbill.services.notify.templates import render
from voxbill.services.unit_of_work import Transaction, UnitOfWork

log = logging.getLogger("voxbill.notify")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunSummary:
    """What one run did: events fanned out, deliveries attempted and how they ended."""

    fanned_out: int = 0
    attempted: int = 0
    delivered: int = 0
    failed: int = 0  # will be retried
    dead: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.dead == 0


class DeliveryWorker:
    """Fans out and delivers; one per process is enough (several nodes share the queue)."""

    def __init__(
        self,
        uow: UnitOfWork,
        channels: Channels,
        *,
        backoff: Backoff,
        lease: timedelta,
        claim_batch: int = 4,
        mail_from: str | None = None,
        clock: Clock = utc_now,
        rand: Callable[[], float] = random.random,
        name: str | None = None,
    ) -> None:
        self._uow = uow
        self.channels = channels
        self._backoff = backoff
        self._lease = lease
        self._claim_batch = claim_batch
        self._mail_from = mail_from
        self.clock = clock
        self._rand = rand
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"

    # -- fan-out ---------------------------------------------------------------------------

    def fan_out(self, batch: int = 500) -> int:
        """Fan out every event not yet fanned out; how many deliveries were made."""
        made = 0
        while True:
            with self._uow.transaction() as tx:
                events = tx.notify.unfanned_events(batch)
                now = self.clock()
                for event in events:
                    event_type = event_type_of(event.topic)
                    if event_type is None or event.account_id is None:
                        continue
                    wanting = [
                        s
                        for s in tx.notify.subscribers(event.account_id, event.created_at)
                        if event_type in s.events
                    ]
                    made += tx.notify.add_deliveries(event, event_type, wanting, now)
                tx.notify.mark_fanned_out([e.id for e in events], now)
            if len(events) < batch:
                return made

    # -- delivery --------------------------------------------------------------------------

    def claim(self, limit: int | None = None) -> list[DeliveryJob]:
        """Claim due deliveries for one lease (committed before anything is sent)."""
        now = self.clock()
        with self._uow.transaction() as tx:
            jobs = tx.notify.claim_due(
                now=now,
                lease_until=now + self._lease,
                claim=uuid.uuid4().hex,
                limit=limit or self._claim_batch,
            )
            return [self._with_template(tx, job) for job in jobs]

    @staticmethod
    def _with_template(tx: Transaction, job: DeliveryJob) -> DeliveryJob:
        """The job with the template of the subscriber's nearest operator or reseller."""
        subscription = job.subscription
        if subscription.channel is Channel.WEBHOOK:
            return job
        chain = [int(part) for part in subscription.account_path.strip("/").split("/")]
        found = tx.notify.templates_on(chain, subscription.channel.value)
        template = nearest_template(found, subscription.account_path, job.event.type)
        return job if template is None else replace(job, template=template)

    def message(self, job: DeliveryJob) -> OutgoingMessage:
        subscription = job.subscription
        template = job.template
        sender_name = template.sender_name if template is not None else None
        subject, text = render(job.event, subscription.channel, template)
        return OutgoingMessage(
            event_id=job.event.id,
            event_type=job.event.type,
            target=subscription.target,
            subject=subject,
            text=text,
            body=job.event.body(),
            secret=subscription.secret,
            sender_name=sender_name,
            sender_address=(template and template.sender_address) or self._mail_from,
        )

    def send(self, job: DeliveryJob) -> str | None:
        """Send one claimed delivery; the error text, or None when it got through."""
        try:
            self.channels[job.subscription.channel].send(self.message(job))
        except DeliveryFailed as exc:
            return str(exc) or type(exc).__name__
        except Exception as exc:  # a channel's bug must not stop the worker
            log.exception("delivery %d: the channel raised", job.delivery_id)
            return f"{type(exc).__name__}: {exc}"
        return None

    def record(self, job: DeliveryJob, error: str | None) -> DeliveryStatus:
        """Record the attempt and the delivery's new state."""
        now = self.clock()
        attempts = job.attempts + 1
        if error is None:
            status, next_at = DeliveryStatus.DELIVERED, None
        else:
            next_at = self._backoff.after_failure(attempts, now, self._rand())
            status = DeliveryStatus.DEAD if next_at is None else DeliveryStatus.FAILED
        with self._uow.transaction() as tx:
            applied = tx.notify.record_attempt(
                job, now=now, worker=self.name, error=error, status=status, next_attempt_at=next_at
            )
        if not applied:
            log.info("delivery %d: attempt recorded, state kept (claim lost)", job.delivery_id)
        return status

    def send_now(
        self, event_type: str, target: str, data: dict[str, Any], account_id: int | None = None
    ) -> str | None:
        """Send one email to ``target`` at once, outside any subscription (a portal
        password reset link): the shipped template of ``event_type``, no retries, nothing
        stored (the text may hold a secret). The error text, or None when it was sent.

        It is sent under the branding of ``account_id``'s nearest operator or reseller
        (the rule of notifications, ``nearest_template``: its own account first, then up
        the tree, a template for ``event_type`` or its "*" one): that template's sender
        name and address, and ``sender_name`` in the shipped texts. Its subject and body
        are not used: they are written for events, and the shipped text is what holds
        the link."""
        event = Event(0, event_type, account_id, self.clock(), data)
        brand = None if account_id is None else self._branding(account_id, event_type)
        subject, text = render(event, Channel.EMAIL, brand)
        message = OutgoingMessage(
            event_id=0,
            event_type=event_type,
            target=target,
            subject=subject,
            text=text,
            body=b"",
            secret=None,
            sender_name=brand.sender_name if brand is not None else None,
            sender_address=(brand and brand.sender_address) or self._mail_from,
        )
        try:
            self.channels[Channel.EMAIL].send(message)
        except Exception as exc:  # DeliveryFailed, or a channel's bug: said, not raised
            log.warning("a %s email could not be sent: %s", event_type, exc)
            return str(exc) or type(exc).__name__
        return None

    def _branding(self, account_id: int, event_type: str) -> NotifyTemplate | None:
        """The sender of the account's nearest operator or reseller that set one for
        ``event_type`` (or "*") by email, as a template with no subject nor body."""
        with self._uow.transaction(readonly=True) as tx:
            account = tx.accounts.get(account_id)
            if account is None:
                return None
            chain = [int(part) for part in account.path.strip("/").split("/")]
            found = tx.notify.templates_on(chain, Channel.EMAIL.value)
        template = nearest_template(found, account.path, event_type)
        if template is None:
            return None
        return replace(template, subject=None, body=None)

    def deliver(self, job: DeliveryJob) -> DeliveryStatus:
        return self.record(job, self.send(job))

    def deliver_due(
        self, summary: RunSummary | None = None, on_attempt: Callable[[], None] | None = None
    ) -> RunSummary:
        """Send everything due now (as the clock says), one claimed batch at a time."""
        summary = summary or RunSummary()
        while jobs := self.claim():
            for job in jobs:
                status = self.deliver(job)
                summary.attempted += 1
                if status is DeliveryStatus.DELIVERED:
                    summary.delivered += 1
                elif status is DeliveryStatus.DEAD:
                    summary.dead += 1
                else:
                    summary.failed += 1
                if on_attempt is not None:
                    on_attempt()
        return summary

    def run_once(self, on_attempt: Callable[[], None] | None = None) -> RunSummary:
        """Fan out, then deliver what is due: ``voxbill notify run-once`` and one tick of
        the ``voxbill serve`` thread."""
        summary = RunSummary(fanned_out=self.fan_out())
        return self.deliver_due(summary, on_attempt)
