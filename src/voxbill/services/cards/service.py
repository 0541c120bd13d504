"""Calling-card batches: generate (all or nothing), export, activate, deactivate, and the
holder's view of a card. The rules are in :mod:`voxbill.domain.cards`; ``docs/cards.md``
tells the whole story.

* **Generation** hashes every PIN first (argon2id, the slow part: tens of ms a card,
  outside any transaction, with a progress callback), then inserts the batch, its card
  accounts, their card identifiers and card rows in one transaction: all or nothing. Two
  generations of one operator at once may pick the same serials: the unique key refuses
  the later commit and it runs again with the next free ones.
* **Activation** runs in one ledger transaction that first locks the batch row (on
  PostgreSQL; SQLite's writers are serial): the cards still ``inactive`` in the range
  become ``active``, and those never funded get the face value in one posting from the
  payer (the operator's ``cards`` book, or the owner's balance, never below its floor).
  A card is funded once, ever (its funding transaction is kept): activating again, or
  two activations at once, never funds twice.
* **Idempotency**: a generation asked with a key (the API's ``Idempotency-Key``, the
  portal form's hidden key, ``--idempotency-key``) stores it on the batch, unique per
  (operator, scope, key): the same key again answers the first batch (``replayed``,
  without the PINs: they exist in clear only in the first answer), with another request
  ``idempotency_conflict``; of two at once, the later fails on the unique key, rolls
  back whole and answers the first batch.
* **Deletion** of a batch made by mistake: only while no card of it was ever activated,
  funded, holds money or placed a call (``batch_in_use`` otherwise), by whoever may
  manage it; its cards' accounts, identifiers and empty books go with it.
* **Tenancy**: a batch is visible to its owner and the owner's ancestors, like the owner
  account itself; a support key reads only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal

from voxbill.domain import access
from voxbill.domain import cards as rules
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import (
    Account,
    AccountKind,
    AccountStatus,
    BalanceSettings,
    Limits,
    Plans,
    check_parent,
)
from voxbill.domain.cards import (
    BatchCounts,
    BatchKey,
    Card,
    CardBatch,
    CardState,
    Funding,
    NewCard,
)
from voxbill.domain.errors import (
    BatchInUse,
    Conflict,
    CurrencyMismatch,
    Forbidden,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
)
from voxbill.domain.identifiers import IdentifierType, NewIdentifier
from voxbill.domain.ledger import (
    BalanceView,
    HistoryEntry,
    Leg,
    Posting,
    SystemBook,
    TransactionKind,
    exact,
)
from voxbill.domain.money import ZERO, canonical, normalize_currency
from voxbill.services.access.identifiers import IdentifierService
from voxbill.services.ledger.service import LedgerService
from voxbill.services.rating.reseller_plans import check_assignable, readable_plans
from voxbill.services.unit_of_work import Transaction, UnitOfWork, WriteConflict

_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class BatchRequest:
    owner_id: int
    count: int
    face_value: Decimal
    currency: str | None = None
    rate_plan: str | None = None
    expires_at: datetime | None = None
    valid_days: int | None = None
    pin_length: int = rules.DEFAULT_PIN_LENGTH
    funding: Funding | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedBatch:
    """A new batch with its PINs in clear: the only time they exist outside a hash."""

    batch: CardBatch
    cards: list[NewCard]
    #: the batch an earlier request with the same idempotency key generated: its PINs
    #: are not known any more (``cards`` is empty, ``csv`` None)
    replayed: bool = False

    @property
    def csv(self) -> str | None:
        return None if self.replayed else rules.printer_csv(self.batch, self.cards)


@dataclass(frozen=True, slots=True)
class Activation:
    batch_id: int
    #: cards that became active now (inactive before, within the range)
    activated: int
    #: of them, cards funded now (never funded before)
    funded: int
    amount: Decimal
    currency: str
    transaction_id: int | None


@dataclass(frozen=True, slots=True)
class HolderView:
    """What a card's holder sees with the card number and PIN."""

    account_id: int
    serial: str
    state: str | None
    expires_at: datetime | None
    expired: bool
    balance: BalanceView
    history: list[HistoryEntry]


class CardService:
    def __init__(
        self,
        uow: UnitOfWork,
        *,
        ledger: LedgerService,
        identifiers: IdentifierService,
        on_change: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow
        self._ledger = ledger
        self._identifiers = identifiers
        self._on_change = on_change
        self.clock = clock

    # -- generation ----------------------------------------------------------------------

    def generate(
        self,
        principal: Principal,
        request: BatchRequest,
        *,
        progress: Callable[[int], None] | None = None,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
    ) -> GeneratedBatch:
        """Generate ``count`` inactive cards under the owner (see the module docstring);
        ``progress(n)`` is told after each of the ``n`` PINs hashed.

        With ``idempotency_key`` (``idempotency_scope``: whose keys, default the actor;
        ``fingerprint``: the request's digest, default one of ``request``), the batch is
        generated once per key: a repeat answers it ``replayed`` (no PINs), another
        request with the key is ``idempotency_conflict``. As for the money endpoints,
        who asks is checked first (a replay is no way round a 403 or 404)."""
        key = None
        if idempotency_key is not None:
            key = BatchKey(
                idempotency_scope or principal.actor,
                idempotency_key,
                fingerprint or request_fingerprint(request),
            )
        size = rules.check_size(request.count)
        pin_length = rules.check_pin_length(request.pin_length)
        face_value = exact(request.face_value, what="face_value")
        if face_value <= ZERO:
            raise InvalidInput("face_value must be positive")
        if request.valid_days is not None and not 1 <= request.valid_days <= 3660:
            raise InvalidInput("valid_days must be 1 to 3660")
        with self._uow.transaction(readonly=True) as tx:
            owner = self._owner(tx, principal, request.owner_id)
            funding = _funding(principal, owner, request.funding)
            # before the PINs are hashed, and before a check that time may change
            earlier = None if key is None else _replay(tx, owner.operator_id, key)
            if earlier is None:
                currency = normalize_currency(request.currency or owner.currency)
                if funding is Funding.OWNER and currency != owner.currency:
                    raise CurrencyMismatch(
                        f"the owner pays in {owner.currency}: its cards are in {owner.currency}"
                    )
                self._check_plan(tx, principal, owner, request.rate_plan, currency)
        if earlier is not None:
            return earlier
        if request.expires_at is not None and request.expires_at <= self.clock():
            raise InvalidInput("expires_at must be in the future")
        pins: list[tuple[str, str]] = []
        for done in range(1, size + 1):
            pin = rules.new_pin(pin_length)
            pins.append((pin, self._identifiers.pins.hash(pin)))
            if progress is not None:
                progress(done)
        name = (request.name or "").strip() or f"{size} x {face_value} {currency}"
        generated: GeneratedBatch | None = None
        for attempt in range(_ATTEMPTS):
            try:
                generated = self._insert(
                    pins,
                    owner=owner,
                    name=name[:200],
                    face_value=face_value,
                    currency=currency,
                    rate_plan=request.rate_plan,
                    expires_at=request.expires_at,
                    valid_days=request.valid_days,
                    pin_length=pin_length,
                    funding=funding,
                    created_by=principal.actor,
                    key=key,
                )
                break
            # a concurrent batch took these serials first (the card numbers' unique key
            # answers Conflict, the sequence's WriteConflict): again, with the next ones
            except (WriteConflict, Conflict):
                if attempt == _ATTEMPTS - 1:
                    raise
        assert generated is not None
        if generated.replayed:
            return generated
        if self._on_change is not None:
            self._on_change()
        self._identifiers.forget()
        return generated

    def earlier(self, principal: Principal, key: BatchKey) -> GeneratedBatch | None:
        """The batch generated with this key (``replayed``), or None; 409
        ``idempotency_conflict`` if the key answered another request."""
        with self._uow.transaction(readonly=True) as tx:
            return _replay(tx, principal.operator_id, key)

    def _insert(
        self,
        pins: list[tuple[str, str]],
        *,
        owner: Account,
        name: str,
        face_value: Decimal,
        currency: str,
        rate_plan: str | None,
        expires_at: datetime | None,
        valid_days: int | None,
        pin_length: int,
        funding: Funding,
        created_by: str,
        key: BatchKey | None,
    ) -> GeneratedBatch:
        with self._uow.transaction() as tx:
            if key is not None:  # a twin with the key committed meanwhile: its batch
                earlier = _replay(tx, owner.operator_id, key)
                if earlier is not None:
                    return earlier
            # FOR SHARE: not moved or closed meanwhile, while its calls (which read their
            # chain FOR SHARE too) go on during a long insert
            parent = tx.accounts.get(owner.id, for_share=True)
            if parent is None or parent.status is AccountStatus.CLOSED:
                raise NotFound("owner account not found")
            first = tx.cards.next_sequence(owner.operator_id)
            batch = tx.cards.insert_batch(
                operator_id=owner.operator_id,
                owner_id=owner.id,
                name=name,
                size=len(pins),
                face_value=face_value,
                currency=currency,
                rate_plan=rate_plan,
                expires_at=expires_at,
                valid_days=valid_days,
                pin_length=pin_length,
                funding=funding,
                first_sequence=first,
                created_at=self.clock(),
                created_by=created_by,
                key=key,
            )
            new_cards: list[NewCard] = []
            rows: list[tuple[int, int]] = []
            for offset, (pin, pin_hash) in enumerate(pins):
                card = NewCard(first + offset, pin, pin_hash)
                draft = _card_account(parent, card, currency, rate_plan)
                account = tx.accounts.insert_account(draft, parent.path)
                tx.access.insert_identifier(
                    NewIdentifier(
                        owner.operator_id, account.id, IdentifierType.CARD, card.serial, pin_hash
                    )
                )
                new_cards.append(card)
                rows.append((account.id, card.sequence))
            tx.cards.insert_cards(batch, rows)
        return GeneratedBatch(batch, new_cards)

    # -- reading -------------------------------------------------------------------------

    def batches(
        self, principal: Principal, *, after_id: int | None = None, limit: int = 50
    ) -> list[CardBatch]:
        with self._uow.transaction(readonly=True) as tx:
            return tx.cards.batches_under(principal.path, after_id=after_id, limit=limit)

    def batch(self, principal: Principal, batch_id: int) -> tuple[CardBatch, BatchCounts]:
        with self._uow.transaction(readonly=True) as tx:
            batch = self._visible(tx, principal, batch_id)
            return batch, tx.cards.counts(batch.id, batch.face_value, self.clock())

    def in_use(self, principal: Principal, batch_id: int) -> str | None:
        """Why the batch may not be deleted (None: it may, by whoever manages it)."""
        with self._uow.transaction(readonly=True) as tx:
            batch = self._visible(tx, principal, batch_id)
            return tx.cards.use_of(batch.id).reason

    def serials(self, principal: Principal, batch_id: int) -> tuple[CardBatch, list[Card]]:
        """The batch's cards without PINs (which are stored only as hashes)."""
        with self._uow.transaction(readonly=True) as tx:
            batch = self._visible(tx, principal, batch_id)
            return batch, tx.cards.cards_of(batch.id)

    # -- activation ----------------------------------------------------------------------

    def activate(
        self,
        principal: Principal,
        batch_id: int,
        from_serial: str | None = None,
        to_serial: str | None = None,
    ) -> Activation:
        """Activate the batch's inactive cards (all, or the serials from..to), funding
        each never-funded one with the face value (see the module docstring)."""
        with self._ledger.unit_of_work() as journal:
            tx = journal.tx
            batch = self._writable(tx, principal, batch_id)
            first, last = _range(batch, from_serial, to_serial)
            pending = [
                c
                for c in tx.cards.cards_of(batch.id, first=first, last=last)
                if c.state is CardState.INACTIVE
            ]
            fresh = [c for c in pending if c.funding_transaction_id is None]
            again = [c.account_id for c in pending if c.funding_transaction_id is not None]
            now = journal.now
            transaction_id = None
            amount = batch.face_value * len(fresh)
            if fresh:
                if batch.funding is Funding.OPERATOR:
                    payer = journal.system_book(SystemBook.CARDS, batch.currency)
                    floors: list[int] = []
                else:
                    payer = journal.account_book(batch.owner_id)
                    floors = [payer]
                legs = [Leg(payer, -amount, batch.currency)]
                legs += [
                    Leg(journal.account_book(c.account_id), batch.face_value, batch.currency)
                    for c in fresh
                ]
                applied = journal.post(
                    Posting.of(legs),
                    kind=TransactionKind.CARD_FUNDING.value,
                    actor=principal.actor,
                    reason=f"calling cards activated: batch {batch.id}",
                    reference=f"card-batch:{batch.id}",
                    floors=floors,
                )
                transaction_id = applied.transaction_id
                tx.cards.set_state(
                    [c.account_id for c in fresh],
                    state=CardState.ACTIVE.value,
                    activated_at=now,
                    expires_at=batch.expiry_from(now),
                    funding_transaction_id=transaction_id,
                )
            tx.cards.set_state(again, state=CardState.ACTIVE.value)
        self._identifiers.forget()
        return Activation(
            batch.id,
            len(pending),
            len(fresh),
            amount,
            batch.currency,
            transaction_id,
        )

    def deactivate(
        self,
        principal: Principal,
        batch_id: int,
        from_serial: str | None = None,
        to_serial: str | None = None,
    ) -> int:
        """Stop the active cards of the range from placing calls; their money stays on
        them (activating them again does not fund them again). The number deactivated."""
        with self._uow.transaction() as tx:
            batch = self._writable(tx, principal, batch_id)
            first, last = _range(batch, from_serial, to_serial)
            active = [
                c.account_id
                for c in tx.cards.cards_of(batch.id, first=first, last=last)
                if c.state is CardState.ACTIVE
            ]
            tx.cards.set_state(active, state=CardState.INACTIVE.value)
        self._identifiers.forget()
        return len(active)

    # -- deletion ------------------------------------------------------------------------

    def delete(self, principal: Principal, batch_id: int) -> CardBatch:
        """Remove a batch generated by mistake, with its cards (their accounts,
        identifiers and empty books), in one transaction: only while none of its cards
        was ever activated or funded, holds money or placed a call (``batch_in_use``),
        by whoever may manage it (support: 403; another subtree's batch: 404)."""
        try:
            with self._uow.transaction() as tx:
                batch = self._writable(tx, principal, batch_id)
                reason = tx.cards.use_of(batch.id).reason
                if reason is not None:
                    raise BatchInUse(f"card batch {batch.id} is in use ({reason}): not deleted")
                tx.cards.delete_batch(batch.id)
        except WriteConflict:
            # something else names one of its cards (a key, a subscription…): the
            # database refused, nothing was deleted
            raise BatchInUse(
                f"card batch {batch_id} is in use (its cards are referred to): not deleted"
            ) from None
        if self._on_change is not None:
            self._on_change()
        self._identifiers.forget()
        return batch

    # -- the holder ----------------------------------------------------------------------

    def holder_view(
        self,
        card: str,
        pin: str,
        *,
        operator_id: int | None,
        within: str | None,
        asker: str | None,
        history: int = 20,
    ) -> HolderView:
        """The card's balance, state, expiry and latest ledger movements, for whoever
        holds its number and PIN: the same guesses budgets as a call (a wrong PIN counts);
        an inactive or expired card is shown as such, not refused."""
        found = self._identifiers.identify(
            operator_id=operator_id,
            card=card,
            pin=pin,
            within=within,
            asker=asker,
            usable_only=False,
        )
        if found is None:  # unknown, or outside the asker's subtree: alike
            raise NotFound("card not found")
        with self._uow.transaction(readonly=True) as tx:
            on_file = tx.cards.card(found.account_id)
        now = self.clock()
        return HolderView(
            account_id=found.account_id,
            serial=on_file.serial if on_file else card.strip(),
            state=None if on_file is None else on_file.state.value,
            expires_at=None if on_file is None else on_file.expires_at,
            expired=on_file is not None and on_file.expired(now),
            balance=self._ledger.balance(found.account_id),
            history=self._ledger.history(found.account_id, limit=history),
        )

    def operator_of(self, account_id: int) -> Principal:
        """The command line acts with the operator's authority over an account's tree."""
        with self._uow.transaction(readonly=True) as tx:
            account = tx.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        return Principal(account.operator_id, f"/{account.operator_id}/", Role.ADMIN)

    def owner_of(self, batch_id: int) -> int:
        with self._uow.transaction(readonly=True) as tx:
            batch = tx.cards.batch(batch_id)
        if batch is None:
            raise NotFound("card batch not found")
        return batch.owner_id

    # -- rules that need the database ----------------------------------------------------

    @staticmethod
    def _owner(tx: Transaction, principal: Principal, owner_id: int) -> Account:
        owner = access.require_visible(principal, tx.accounts.get(owner_id), "owner account")
        access.check_create(principal, AccountKind.CARD)
        check_parent(AccountKind.CARD, owner.kind)
        if owner.status is AccountStatus.CLOSED:
            raise InvalidInput(f"account {owner.id} is closed: no cards are made under it")
        return owner

    @staticmethod
    def _check_plan(
        tx: Transaction, principal: Principal, owner: Account, plan: str | None, currency: str
    ) -> None:
        if plan is None:
            return
        # the accounts' rule (services/accounts): a key names the plans its subtree is rated
        # by or owns (admin: any); an owned plan prices only accounts below its owner
        found = tx.rates.claim_plan(owner.operator_id, plan)  # not deleted under us
        allowed = readable_plans(tx, principal)
        if found is None or (allowed is not None and plan not in allowed):
            raise InvalidInput(f"there is no rate plan named {plan!r}")
        if found.currency != currency:
            raise InvalidInput(f"rate plan {plan!r} is in {found.currency}, not {currency}")
        check_assignable(owner, found)

    @staticmethod
    def _visible(tx: Transaction, principal: Principal, batch_id: int) -> CardBatch:
        batch = tx.cards.batch(batch_id)
        owner = None if batch is None else tx.accounts.get(batch.owner_id)
        access.require_visible(principal, owner, "card batch")
        assert batch is not None
        return batch

    @staticmethod
    def _writable(tx: Transaction, principal: Principal, batch_id: int) -> CardBatch:
        """The batch locked for a change (FOR UPDATE on PostgreSQL), if the principal
        may change it."""
        batch = tx.cards.batch(batch_id, for_update=True)
        owner = None if batch is None else tx.accounts.get(batch.owner_id)
        owner = access.require_visible(principal, owner, "card batch")
        assert batch is not None
        check_manage(principal, owner, batch)
        return batch


def request_fingerprint(request: BatchRequest) -> str:
    """A digest of what was asked (money in one spelling: "10.0" is "10.00")."""
    values = asdict(request)
    values["face_value"] = canonical(Decimal(request.face_value).normalize())
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"card-batch {text}".encode()).hexdigest()


def _replay(tx: Transaction, operator_id: int, key: BatchKey) -> GeneratedBatch | None:
    """The batch generated with the key, if any; 409 if it answered another request."""
    found = tx.cards.batch_by_key(operator_id, key.scope, key.key)
    if found is None:
        return None
    batch, digest = found
    if digest != key.fingerprint:
        raise IdempotencyConflict(f"idempotency key {key.key!r} was used for a different request")
    return GeneratedBatch(batch, [], replayed=True)


def check_manage(principal: Principal, owner: Account, batch: CardBatch) -> None:
    """Whether the principal may activate and deactivate the batch (whose owner it
    sees): a writing key but a user's, paying as the batch was set to be paid."""
    access.require_write(principal)
    if principal.role is Role.USER:
        raise Forbidden("a user key cannot manage card batches")
    _funding(principal, owner, batch.funding)


def _funding(principal: Principal, owner: Account, asked: Funding | None) -> Funding:
    """Who pays the face value: the operator's ``cards`` book (an admin key only), or
    the owner's balance (the owner's own key, or an admin's)."""
    funding = asked or (Funding.OPERATOR if principal.role is Role.ADMIN else Funding.OWNER)
    if funding is Funding.OPERATOR and principal.role is not Role.ADMIN:
        raise Forbidden("only the operator funds cards from its own books")
    owner_pays = funding is Funding.OWNER and principal.role is not Role.ADMIN
    if owner_pays and not principal.is_self(owner):
        raise Forbidden("cards paid by their owner's balance are managed by the owner's own key")
    return funding


def _range(batch: CardBatch, from_serial: str | None, to_serial: str | None) -> tuple[int, int]:
    first = batch.first_sequence
    last = first + batch.size - 1
    low = first if from_serial is None else rules.sequence_of(from_serial)
    high = last if to_serial is None else rules.sequence_of(to_serial)
    if not first <= low <= high <= last:
        raise InvalidInput(
            f"the serials must run from {batch.first_serial} to {batch.last_serial}, in order"
        )
    return low, high


def _card_account(parent: Account, card: NewCard, currency: str, plan: str | None) -> Account:
    """A card's account: its own prepaid balance, one call at a time (PRODUCT.md)."""
    return Account(
        id=0,
        parent_id=parent.id,
        path="",
        depth=0,
        kind=AccountKind.CARD,
        name=f"card {card.serial}",
        status=AccountStatus.ACTIVE,
        currency=currency,
        balance=BalanceSettings(),
        limits=Limits(max_concurrent_calls=1),
        plans=Plans(rate_plan=plan),
        timezone=parent.timezone,
        tax_profile=None,
    )


__all__ = [
    "Activation",
    "BatchRequest",
    "CardService",
    "GeneratedBatch",
    "HolderView",
    "check_manage",
    "request_fingerprint",
]
