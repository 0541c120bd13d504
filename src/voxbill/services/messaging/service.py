"""Charging SMS: identify the sender, price every level, admit by rate limit, charge once.

The order matters: a replay is answered before anything else (a retry is never rate
limited nor charged again); every refusal (unknown sender, blocked, no rate, rate
limited) happens before money moves; the charge at every level and the message record
commit in ONE transaction, and the record's unique (scope, message id) makes two racing
copies of one message charge once — the loser rolls back whole and replays the winner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from voxbill.domain import access
from voxbill.domain.access import Principal
from voxbill.domain.accounts import Account
from voxbill.domain.charging import seller
from voxbill.domain.errors import (
    CurrencyMismatch,
    IdempotencyConflict,
    InvalidInput,
    NoRate,
    Refused,
)
from voxbill.domain.ledger import TransactionKind
from voxbill.domain.messaging import (
    MAX_SEGMENTS,
    MessagePrice,
    MessageRecord,
    check_senders,
    money_text,
    price_message,
)
from voxbill.domain.money import ZERO
from voxbill.domain.sms import MccMnc, Segmentation, parse_mcc_mnc, segment
from voxbill.services.access.identifiers import IdentifierService
from voxbill.services.ledger.service import Charge, ChargeRequest, LedgerService
from voxbill.services.messaging.admission import admit
from voxbill.services.messaging.messages import LevelCharge, MessageReceipt, MessageRequest
from voxbill.services.messaging.rate_limit import RateLimiter
from voxbill.services.rating.service import RatingService
from voxbill.services.unit_of_work import Transaction, UnitOfWork, WriteConflict

__all__ = ["LevelCharge", "MessageReceipt", "MessageRequest", "MessagingService"]


@dataclass(frozen=True)
class _Message:
    """A request once checked: the recipient's E.164 digits, segments, network."""

    request: MessageRequest
    digest: str
    recipient: str
    parts: Segmentation
    network: MccMnc | None


def _money(amount: Decimal) -> Decimal:
    """The digits a stored record reads back with, so a replay answers the same."""
    return Decimal(money_text(amount))


class MessagingService:
    def __init__(
        self,
        uow: UnitOfWork,
        *,
        rating: RatingService,
        identifiers: IdentifierService,
        ledger: LedgerService,
        limiter: RateLimiter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow
        self._rating = rating
        self._identifiers = identifiers
        self._ledger = ledger
        self._limiter = limiter
        self._clock = clock

    def send(self, principal: Principal, request: MessageRequest) -> MessageReceipt:
        """Charge one message at every level that has an SMS plan, exactly once."""
        access.require_write(principal)
        message_id = request.message_id
        if not message_id or len(message_id) > 200 or not message_id.isprintable():
            raise InvalidInput("message_id must be 1 to 200 printable characters")
        recipient = self._rating.normalize(request.recipient)
        network = parse_mcc_mnc(request.mcc_mnc) if request.mcc_mnc is not None else None
        parts = segment(request.text)
        if parts.segments > MAX_SEGMENTS:
            raise InvalidInput(f"a message has at most {MAX_SEGMENTS} segments")
        digest = request.fingerprint()
        replay = self._replay(principal, message_id, digest)
        if replay is not None:
            return replay
        chain = self._chain(principal, request)
        now = self._clock()
        prices = self._prices(chain, recipient, parts.segments, now, network)
        admit(self._limiter, chain)
        message = _Message(request, digest, recipient, parts, network)
        try:
            return self._charge(principal, message, chain, prices)
        except WriteConflict:
            replay = self._replay(principal, message_id, digest)
            if replay is None:
                raise
            return replay

    def messages(
        self,
        principal: Principal,
        *,
        account_id: int | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[MessageReceipt]:
        """Charged messages in the key's subtree (or of one account in it), newest first."""
        if not 1 <= limit <= 500:
            raise InvalidInput("limit must be between 1 and 500")
        with self._uow.transaction(readonly=True) as tx:
            if account_id is not None:
                access.require_visible(principal, tx.accounts.get(account_id))
            records = tx.messages.in_subtree(
                principal.path, account_id=account_id, before_id=before_id, limit=limit
            )
        return [MessageReceipt.of_record(record) for record in records]

    # -- steps ---------------------------------------------------------------------

    def _replay(self, principal: Principal, message_id: str, digest: str) -> MessageReceipt | None:
        with self._uow.transaction(readonly=True) as tx:
            record = tx.messages.find(principal.account_id, message_id)
        if record is None:
            return None
        if record.fingerprint != digest:
            raise IdempotencyConflict(
                f"message_id {message_id!r} was already charged for a different message"
            )
        return MessageReceipt.of_record(record, replayed=True)

    def _chain(self, principal: Principal, request: MessageRequest) -> list[Account]:
        """The sending account and its ancestors up to the operator, every one active."""
        account_id = request.account_id
        if account_id is None:
            caller = self._identifiers.identify(
                operator_id=principal.operator_id, ani=request.sender
            )
            if caller is None:
                raise Refused(
                    f"sender {request.sender!r} is not a known number", code="unknown_sender"
                )
            account_id = caller.account_id
        with self._uow.transaction(readonly=True) as tx:
            account = tx.accounts.get(account_id)
            if request.account_id is not None:
                account = access.require_visible(principal, account)
            elif account is None or not principal.sees(account):
                raise Refused(
                    f"sender {request.sender!r} is not a known number", code="unknown_sender"
                )
            chain = [account]
            for ancestor_id in reversed(account.ancestor_ids):
                ancestor = tx.accounts.get(ancestor_id)
                assert ancestor is not None
                chain.append(ancestor)
        check_senders(chain, lambda account: self._ledger.funds(account.id), self._outbound)
        return chain

    def _outbound(self, account: Account) -> Decimal:
        """A mutual partner's outbound balance (its linked vendor's); asked for no other."""
        with self._uow.transaction(readonly=True) as tx:
            found = tx.accounts.partner_vendor(account.id)
        return ZERO if found is None else found[1]

    def _prices(
        self,
        chain: Sequence[Account],
        recipient: str,
        segments: int,
        at: datetime,
        network: MccMnc | None,
    ) -> list[tuple[Account, MessagePrice]]:
        prices = []
        for account in chain:
            if not account.plans.sms_plan:
                continue
            plan = self._rating.plan(account.operator_id, account.plans.sms_plan)
            if plan.currency != account.currency:
                raise CurrencyMismatch(
                    f"SMS plan {plan.name} is in {plan.currency}, account {account.id} "
                    f"in {account.currency}"
                )
            prices.append((account, price_message(plan, recipient, segments, at, network)))
        if not prices:
            raise NoRate(f"no account from {chain[0].id} up has an SMS plan")
        return prices

    def _charge(
        self,
        principal: Principal,
        message: _Message,
        chain: Sequence[Account],
        prices: Sequence[tuple[Account, MessagePrice]],
    ) -> MessageReceipt:
        sender = chain[0]
        now = self._clock()
        request, parts = message.request, message.parts
        network = None if message.network is None else "-".join(message.network)
        receipts: list[MessageReceipt] = []

        def record(tx: Transaction, charge: Charge) -> None:
            levels = tuple(
                LevelCharge(
                    account_id=account.id,
                    plan=price.plan,
                    key=price.key,
                    destination=price.destination,
                    price=_money(price.price),
                    cost=_money(price.cost),
                    currency=price.currency,
                    balance_after=_money(balance),
                )
                for (account, price), balance in zip(prices, charge.balances_after, strict=True)
            )
            first = levels[0]
            stored = MessageRecord(
                operator_id=sender.operator_id,
                scope_account_id=principal.account_id,
                message_id=request.message_id,
                fingerprint=message.digest,
                account_id=sender.id,
                sender=request.sender,
                recipient=message.recipient,
                mcc_mnc=network,
                segments=parts.segments,
                encoding=parts.encoding.value,
                cost=first.cost,
                currency=first.currency,
                balance_after=first.balance_after,
                charges=levels,
                transaction_id=charge.transaction_id,
                created_at=now,
            )
            record_id = tx.messages.insert_record(stored)
            receipts.append(
                MessageReceipt(
                    id=record_id,
                    message_id=request.message_id,
                    account_id=sender.id,
                    sender=request.sender,
                    recipient=message.recipient,
                    mcc_mnc=network,
                    segments=parts.segments,
                    encoding=parts.encoding.value,
                    cost=first.cost,
                    currency=first.currency,
                    balance=first.balance_after,
                    charges=levels,
                    transaction_id=charge.transaction_id,
                    created_at=now,
                )
            )

        self._ledger.charge(
            [
                ChargeRequest(account.id, price.cost, seller(chain, account, account.currency))
                for account, price in prices
            ],
            kind=TransactionKind.SMS,
            actor=principal.actor,
            reason=f"sms {request.message_id}",
            then=record,
        )
        return receipts[0]
