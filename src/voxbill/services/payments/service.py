"""Online top-ups: start a checkout within the account's limits; credit, fail or reverse
a payment from its provider's verified events, exactly once, through the ledger.

A checkout is three short steps, none holding a transaction across the network: (1) the
account's row is locked, the limits checked and a ``pending`` payment written (so a
concurrent checkout counts it); (2) the provider opens its hosted checkout, idempotent
by the payment id; (3) its reference and URL are stored. A failure at (2) marks the
payment ``failed`` (not counted) and frees the idempotency key.

An event is applied in one ledger transaction that locks the payment's row first: a
credit is made only while the payment has none, a refund reverses only what the refunds
so far add beyond what was reversed, a dispute only once — so the same event delivered
any number of times, or at once by several deliveries, moves the money once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from voxbill.domain import access
from voxbill.domain.access import Principal
from voxbill.domain.accounts import Account
from voxbill.domain.errors import Conflict, IdempotencyConflict, InvalidInput, NotFound
from voxbill.domain.ledger import Posting, SystemBook, TransactionKind, money_text
from voxbill.domain.money import ZERO, canonical
from voxbill.domain.payments import (
    CheckoutRequest,
    Payment,
    PaymentEvent,
    PaymentEventKind,
    PaymentMismatch,
    PaymentNotYetCredited,
    PaymentProviderError,
    PaymentsNotConfigured,
    PaymentStatus,
    check_checkout,
    check_limits,
    checkout_amount,
    period_starts,
)
from voxbill.services.ledger.journal import Journal
from voxbill.services.ledger.service import LedgerService
from voxbill.services.ports.payments import PaymentProvider
from voxbill.services.unit_of_work import Transaction, UnitOfWork, WriteConflict
from voxbill.settings import Settings

log = logging.getLogger(__name__)

TOPUP_RECEIVED = "topup.received"
PAYMENT_FAILED = "payment.failed"


@dataclass(frozen=True, slots=True)
class Checkout:
    payment: Payment
    replayed: bool = False
    #: keep the payer's card for the account's auto-recharge
    save_method: bool = False


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What an event did: ``action`` is credited, failed, expired, reversed, or
    duplicate / ignored (nothing changed)."""

    event_id: str
    type: str
    action: str
    payment_id: str | None = None


class PaymentService:
    def __init__(
        self,
        uow: UnitOfWork,
        ledger: LedgerService,
        settings: Settings,
        providers: Mapping[str, PaymentProvider],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow = self._uow = uow
        self.ledger = self._ledger = ledger
        self._settings = settings
        self.providers = dict(providers)
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    # -- checkout ------------------------------------------------------------------------

    def configured(self, provider: str = "stripe") -> bool:
        """Whether checkouts through ``provider`` can start (else ``payments_not_configured``)."""
        return provider in self.providers and bool(self._settings.payments_success_url)

    def provider(self, name: str) -> PaymentProvider:
        found = self.providers.get(name)
        if found is None:
            raise PaymentsNotConfigured(f"online payments through {name} are not configured")
        return found

    def checkout(
        self,
        principal: Principal,
        account_id: int,
        amount: Decimal,
        *,
        provider: str = "stripe",
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> Checkout:
        gateway = self.providers.get(provider)
        success, cancel = self._settings.payments_success_url, self._settings.payments_cancel_url
        scope = f"account:{principal.account_id}"
        args = (principal, account_id, amount, provider, scope, idempotency_key, fingerprint)
        try:
            started = self._start(*args)
        except WriteConflict:  # a twin with the same key was stored first: replay it
            started = self._start(*args)
        if started.replayed:
            return started
        if gateway is None or not success:  # pragma: no cover - _start refused it
            raise PaymentsNotConfigured(f"online payments through {provider} are not set up")
        payment = started.payment
        minutes = self._settings.payments_checkout_minutes
        request = CheckoutRequest(
            payment_id=payment.id,
            account_id=payment.account_id,
            account_name=f"account {payment.account_id}",
            amount=payment.amount,
            currency=payment.currency,
            success_url=success.replace("{payment_id}", payment.id),
            cancel_url=(cancel or success).replace("{payment_id}", payment.id),
            expires_at=payment.created_at + timedelta(minutes=minutes),
            save_method=started.save_method,
        )
        try:
            session = gateway.create_checkout(request)
        except Exception as exc:  # whatever it was, this payment will never be paid
            said = str(exc) if isinstance(exc, PaymentProviderError) else type(exc).__name__
            self._update(payment.id, status=PaymentStatus.FAILED, failure=said[:500])
            raise
        return Checkout(self._update(payment.id, reference=session.reference, url=session.url))

    def _start(
        self,
        principal: Principal,
        account_id: int,
        amount: Decimal,
        provider: str,
        scope: str,
        key: str | None,
        fingerprint: str | None,
    ) -> Checkout:
        now = self._clock()
        with self._uow.transaction() as tx:
            # the row lock serializes one account's checkouts: the limits see each other
            account = access.require_visible(
                principal, tx.accounts.get(account_id, for_update=True)
            )
            check_checkout(principal, account)  # who may: before any other answer
            if provider not in self.providers:
                raise PaymentsNotConfigured(f"online payments through {provider} are not set up")
            if not self._settings.payments_success_url:
                raise PaymentsNotConfigured("VOXBILL_PAYMENTS_SUCCESS_URL is not set")
            if key is not None:
                existing = tx.payments.by_idempotency_key(scope, key)
                if existing is not None:
                    return Checkout(_replayed(existing, fingerprint), replayed=True)
            value = checkout_amount(amount, account.currency)
            payment = self.new_payment(tx, account, value, provider, now, scope, key, fingerprint)
            # only the account's own payer's card is kept for its auto-recharge: a parent
            # paying into it never has its card charged later for the child
            saving = (
                principal.is_self(account) and tx.payments.auto_recharge(account.id) is not None
            )
            return Checkout(payment, save_method=saving)

    def new_payment(
        self,
        tx: Transaction,
        account: Account,
        value: Decimal,
        provider: str,
        now: datetime,
        scope: str | None = None,
        key: str | None = None,
        fingerprint: str | None = None,
    ) -> Payment:
        """A pending payment of ``value`` for ``account`` (its row locked by the caller),
        refused when it does not fit the account's top-up limits."""
        limits = account.limits
        if (
            limits.topup_min is not None
            or limits.topup_max is not None
            or limits.topup_daily_max is not None
            or limits.topup_monthly_max is not None
        ):
            day, month = period_starts(now, account.timezone)
            pending_since = now - timedelta(minutes=self._settings.payments_checkout_minutes)
            today = tx.payments.counted_total(account.id, day, pending_since)
            this_month = tx.payments.counted_total(account.id, month, pending_since)
            check_limits(limits, value, account.currency, today, this_month)
        payment = Payment(
            id=f"pay_{secrets.token_hex(12)}",
            account_id=account.id,
            provider=provider,
            amount=value,
            currency=account.currency,
            status=PaymentStatus.PENDING,
            created_at=now,
            updated_at=now,
            idempotency_scope=scope if key is not None else None,
            idempotency_key=key,
            fingerprint=fingerprint if key is not None else None,
        )
        tx.payments.insert_payment(payment)
        return payment

    def _update(
        self,
        payment_id: str,
        *,
        status: PaymentStatus | None = None,
        failure: str | None = None,
        reference: str | None = None,
        url: str | None = None,
    ) -> Payment:
        with self._uow.transaction() as tx:
            payment = tx.payments.get_payment(payment_id, for_update=True)
            if payment is None:  # pragma: no cover - written before
                raise NotFound(f"no payment {payment_id}")
            changes: dict[str, object] = {"updated_at": self._clock()}
            if status is not None and payment.status is PaymentStatus.PENDING:
                # a failed start frees its key: a retry with it starts a new checkout
                changes |= {"status": status, "failure": failure}
                changes |= {"idempotency_scope": None, "idempotency_key": None}
            if reference is not None:
                changes |= {"reference": reference, "url": url}
            updated = dataclasses.replace(payment, **changes)  # type: ignore[arg-type]
            tx.payments.update_payment(updated)
            return updated

    def set_reference(self, payment_id: str, reference: str) -> Payment:
        """The provider's reference of a charge (an auto-recharge's payment intent)."""
        with self._uow.transaction() as tx:
            payment = tx.payments.get_payment(payment_id, for_update=True)
            if payment is None:  # pragma: no cover - written before
                raise NotFound(f"no payment {payment_id}")
            updated = dataclasses.replace(
                payment, reference=reference, intent=reference, updated_at=self._clock()
            )
            tx.payments.update_payment(updated)
            return updated

    # -- reading -------------------------------------------------------------------------

    def payments_of(
        self,
        principal: Principal,
        account_id: int,
        *,
        status: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[Payment]:
        """An account's payments, newest first, for a caller that sees the account."""
        with self._uow.transaction(readonly=True) as tx:
            access.require_visible(principal, tx.accounts.get(account_id))
        return self.list(account_id=account_id, status=status, before=before, limit=limit)

    def list(
        self,
        *,
        account_id: int | None = None,
        status: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[Payment]:
        """Payments newest first, any account's (operators: the CLI)."""
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        if status is not None and status not in {s.value for s in PaymentStatus}:
            raise InvalidInput(f"status: one of {', '.join(s.value for s in PaymentStatus)}")
        with self._uow.transaction(readonly=True) as tx:
            return tx.payments.list_payments(
                account_id=account_id, status=status, before=before, limit=limit
            )

    def get(self, payment_id: str) -> Payment | None:
        with self._uow.transaction(readonly=True) as tx:
            return tx.payments.get_payment(payment_id)

    # -- events --------------------------------------------------------------------------

    def handle_webhook(self, provider: str, raw_body: bytes, signature: str | None) -> EventOutcome:
        """Verify the provider's event and apply it (see the module's docstring)."""
        event = self.provider(provider).parse_event(raw_body, signature)
        return self.apply(event)

    def apply(self, event: PaymentEvent) -> EventOutcome:
        if event.kind is PaymentEventKind.IGNORED:
            return EventOutcome(event.event_id, event.type, "ignored")
        for attempt in range(3):
            try:
                with self._ledger.unit_of_work() as journal:
                    return self._apply(journal, event)
            except WriteConflict:  # pragma: no cover - a book created by a twin: retry
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _apply(self, journal: Journal, event: PaymentEvent) -> EventOutcome:
        payment = _locate(journal.tx, event)
        if payment is None and event.kind in _TAKES_BACK:
            # its payment's success (which names the intent) may not have arrived yet
            raise PaymentNotYetCredited(f"{event.type} {event.event_id}: no payment credited yet")
        if payment is None:
            log.warning(
                "payment event %s (%s) names no payment of ours", event.event_id, event.type
            )
            return EventOutcome(event.event_id, event.type, "ignored")
        handlers = {
            PaymentEventKind.SUCCEEDED: self._succeeded,
            PaymentEventKind.FAILED: self._failed,
            PaymentEventKind.EXPIRED: self._expired,
            PaymentEventKind.REFUNDED: self._refunded,
            PaymentEventKind.DISPUTED: self._disputed,
        }
        action, updated = handlers[event.kind](journal, payment, event)
        if updated is not payment:
            journal.tx.payments.update_payment(dataclasses.replace(updated, updated_at=journal.now))
        if event.customer and event.method:  # the card a paid checkout saved
            setting = journal.tx.payments.auto_recharge(payment.account_id, for_update=True)
            if setting is not None and (setting.customer, setting.method) != (
                event.customer,
                event.method,
            ):
                journal.tx.payments.save_auto_recharge(
                    dataclasses.replace(setting, customer=event.customer, method=event.method)
                )
        return EventOutcome(event.event_id, event.type, action, payment.id)

    def _succeeded(
        self, journal: Journal, payment: Payment, event: PaymentEvent
    ) -> tuple[str, Payment]:
        if payment.credit_transaction_id is not None:
            return "duplicate", payment
        _same_money(payment, event)
        book = journal.account_book(payment.account_id)
        cash = journal.system_book(SystemBook.CASH, payment.currency)
        applied = journal.post(
            Posting.move(cash, book, payment.amount, payment.currency),
            kind=TransactionKind.TOPUP.value,
            actor=f"payments:{payment.provider}",
            reason=f"online top-up {payment.id}",
            reference=payment.ledger_reference,
        )
        updated = dataclasses.replace(
            payment,
            status=PaymentStatus.SUCCEEDED,
            credit_transaction_id=applied.transaction_id,
            intent=event.intent or payment.intent,
            failure=None,
        )
        self._outbox(
            journal,
            TOPUP_RECEIVED,
            updated,
            event,
            transaction_id=applied.transaction_id,
            balance=journal.balance_of(book),
        )
        return "credited", updated

    def _failed(
        self, journal: Journal, payment: Payment, event: PaymentEvent
    ) -> tuple[str, Payment]:
        if payment.status is not PaymentStatus.PENDING:
            return "duplicate", payment
        updated = dataclasses.replace(
            payment,
            status=PaymentStatus.FAILED,
            intent=event.intent or payment.intent,
            failure=(event.detail or event.type)[:500],
        )
        self._outbox(journal, PAYMENT_FAILED, updated, event, reason=updated.failure)
        return "failed", updated

    def _expired(
        self, journal: Journal, payment: Payment, event: PaymentEvent
    ) -> tuple[str, Payment]:
        if payment.status is not PaymentStatus.PENDING:
            return "duplicate", payment
        return "expired", dataclasses.replace(payment, status=PaymentStatus.EXPIRED)

    def _refunded(
        self, journal: Journal, payment: Payment, event: PaymentEvent
    ) -> tuple[str, Payment]:
        _credited_first(payment, event)
        if payment.credit_transaction_id is None or event.amount is None:
            return "ignored", payment
        if payment.status is PaymentStatus.DISPUTED:
            return "duplicate", payment  # the dispute reversed it already
        _same_currency(payment, event)
        target = min(event.amount, payment.amount)  # refunded so far, in all
        delta = target - payment.reversed_amount
        if delta <= ZERO:
            return "duplicate", payment
        self._reverse(journal, payment, delta, f"refund of online top-up {payment.id}")
        reversed_amount = payment.reversed_amount + delta
        status = (
            PaymentStatus.REFUNDED
            if reversed_amount == payment.amount
            else PaymentStatus.PARTIALLY_REFUNDED
        )
        return "reversed", dataclasses.replace(
            payment, status=status, reversed_amount=reversed_amount
        )

    def _disputed(
        self, journal: Journal, payment: Payment, event: PaymentEvent
    ) -> tuple[str, Payment]:
        _credited_first(payment, event)
        if payment.credit_transaction_id is None:
            return "ignored", payment
        if payment.status is PaymentStatus.DISPUTED:
            return "duplicate", payment
        _same_currency(payment, event)
        left = payment.amount - payment.reversed_amount
        delta = left if event.amount is None else min(event.amount, left)
        if delta > ZERO:
            self._reverse(journal, payment, delta, f"dispute of online top-up {payment.id}")
        return "reversed", dataclasses.replace(
            payment, status=PaymentStatus.DISPUTED, reversed_amount=payment.reversed_amount + delta
        )

    def _reverse(self, journal: Journal, payment: Payment, amount: Decimal, reason: str) -> None:
        """Take ``amount`` back from the balance to the cash book: a new transaction
        linked by the payment's reference, never below-floor-checked (the money has left
        already; a prepaid balance may go negative and its calls stop)."""
        book = journal.account_book(payment.account_id)
        cash = journal.system_book(SystemBook.CASH, payment.currency)
        journal.post(
            Posting.move(book, cash, amount, payment.currency),
            kind=TransactionKind.PAYMENT_REVERSAL.value,
            actor=f"payments:{payment.provider}",
            reason=reason,
            reference=payment.ledger_reference,
        )

    @staticmethod
    def _outbox(
        journal: Journal,
        topic: str,
        payment: Payment,
        event: PaymentEvent,
        *,
        transaction_id: int | None = None,
        balance: Decimal | None = None,
        reason: str | None = None,
    ) -> None:
        payload: dict[str, object] = {
            "event": topic,
            "account_id": payment.account_id,
            "payment_id": payment.id,
            "provider": payment.provider,
            "provider_event_id": event.event_id,
            "amount": canonical(payment.amount),
            "currency": payment.currency,
            "at": journal.now.isoformat(),
        }
        if transaction_id is not None:
            payload["transaction_id"] = transaction_id
        if balance is not None:
            payload["balance"] = money_text(balance)
        if reason is not None:
            payload["reason"] = reason
        journal.tx.ledger.add_outbox_event(
            topic, payment.account_id, json.dumps(payload, sort_keys=True), journal.now
        )


#: Events that take money back: never dropped for arriving before the credit.
_TAKES_BACK = frozenset({PaymentEventKind.REFUNDED, PaymentEventKind.DISPUTED})


def _credited_first(payment: Payment, event: PaymentEvent) -> None:
    """A refund or dispute of a payment still pending (its success event is late) is
    refused, so the provider sends it again once the credit is there; one of a payment
    that failed or expired (never credited) is ignored."""
    if payment.credit_transaction_id is None and payment.status is PaymentStatus.PENDING:
        raise PaymentNotYetCredited(
            f"{event.type} {event.event_id}: payment {payment.id} is not credited yet"
        )


def _locate(tx: Transaction, event: PaymentEvent) -> Payment | None:
    """The event's payment, its row locked (the first lock this transaction takes)."""
    if event.payment_id:
        found = tx.payments.get_payment(event.payment_id, for_update=True)
        if found is not None and found.provider == event.provider:
            return found
    if event.reference:
        found = tx.payments.by_reference(event.provider, event.reference, for_update=True)
        if found is not None:
            return found
    if event.intent:
        return tx.payments.by_intent(event.provider, event.intent, for_update=True)
    return None


def _same_currency(payment: Payment, event: PaymentEvent) -> None:
    if event.currency is not None and event.currency != payment.currency:
        raise PaymentMismatch(
            f"payment {payment.id} is in {payment.currency}, the event in {event.currency}"
        )


def _same_money(payment: Payment, event: PaymentEvent) -> None:
    _same_currency(payment, event)
    if event.amount is not None and event.amount != payment.amount:
        raise PaymentMismatch(
            f"payment {payment.id} is for {canonical(payment.amount)} {payment.currency}, "
            f"the event says {canonical(event.amount)}: not credited"
        )


def _replayed(existing: Payment, fingerprint: str | None) -> Payment:
    if existing.fingerprint != fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was used for a different checkout")
    if existing.url is None:
        raise Conflict("the checkout with this Idempotency-Key is still being created; retry")
    return existing
