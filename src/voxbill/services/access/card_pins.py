"""Verifying a calling card's PIN: guess budgets in the database, argon2id on a leash.

Two guards, for two different harms:

* **guessing** (the rules of :mod:`voxbill.domain.card_pins`): every attempt is counted
  in the database *before* its PIN is verified, per card and per asker, in one short
  transaction that locks the card's counter row; the result is reported in a second
  one. A card that locks writes a ``card.pin_locked`` outbox event for its owner.
* **starvation**: argon2id costs tens of milliseconds of CPU and a few MiB, and it runs
  in whatever thread serves the call (the API's thread pool, the RADIUS workers). Here
  at most ``pin_verify_concurrency`` verifications run at once, at most
  ``pin_verify_queue`` more wait, and one asker has at most ``pin_asker_in_flight`` of
  them: anything beyond is refused ``pin_busy`` *at once*, so a flood of card calls
  holds a bounded number of the shared threads and no other call ever waits for a PIN.
  These are this node's capacity, not truths (PRODUCT.md): process memory is right.

Cost: two small write transactions per card call that reaches verification (the claim
and the report), against the 20-50 ms of argon2id they guard. Calls without a card
never come here.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from voxbill.domain import card_pins as rules
from voxbill.domain.card_pins import CardCounter, CardOnFile, PinPolicy
from voxbill.domain.errors import InvalidPin, PinBusy, PinRefused, VoxbillError
from voxbill.services.unit_of_work import Transaction, UnitOfWork
from voxbill.settings import Settings

log = logging.getLogger(__name__)

# PINs have little entropy whatever the hash; a lighter argon2id keeps card calls fast.
HASHER: Final = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
#: The outbox topic written when a card locks (for the card's owner).
PIN_LOCKED: Final = "card.pin_locked"
#: Seconds an admitted verification may wait for a slot before it is refused: a safety
#: net only, since at most ``queue`` verifications of a few ms are ever ahead of it.
SLOT_WAIT_SECONDS: Final = 10.0


def policy_of(settings: Settings) -> PinPolicy:
    return PinPolicy(
        max_failures=settings.pin_max_failures,
        lockout=timedelta(seconds=settings.pin_lockout_seconds),
        lockout_max=timedelta(seconds=settings.pin_lockout_max_seconds),
        asker_max_failures=settings.pin_asker_max_failures,
        asker_window=timedelta(seconds=settings.pin_asker_window_seconds),
    )


class PinCapacity:
    """This node's PIN verifications: ``concurrency`` at once, ``queue`` more admitted to
    wait, ``per_asker`` admitted per asker; beyond, :class:`PinBusy` without waiting."""

    def __init__(self, concurrency: int, queue: int, per_asker: int) -> None:
        self._limit = concurrency + queue
        self._per_asker = per_asker
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._admitted = 0
        self._by_asker: dict[str, int] = {}
        self.slot_wait_seconds = SLOT_WAIT_SECONDS

    @property
    def admitted_now(self) -> int:
        return self._admitted

    @contextmanager
    def admitted(self, asker: str | None) -> Iterator[None]:
        with self._lock:
            if self._admitted >= self._limit:
                raise PinBusy("card PIN checks are busy: retry")
            if asker is not None and self._by_asker.get(asker, 0) >= self._per_asker:
                raise PinBusy("too many card PIN checks in flight from this asker: retry")
            self._admitted += 1
            if asker is not None:
                self._by_asker[asker] = self._by_asker.get(asker, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1
                if asker is not None:
                    left = self._by_asker[asker] - 1
                    if left:
                        self._by_asker[asker] = left
                    else:
                        del self._by_asker[asker]

    def run(self, work: Callable[[], bool]) -> bool:
        """``work`` in one of the ``concurrency`` slots (an admitted caller waits its turn)."""
        if not self._slots.acquire(timeout=self.slot_wait_seconds):
            raise PinBusy("card PIN checks are busy: retry")
        try:
            return work()
        finally:
            self._slots.release()


def matches(pin_hash: str, pin: str) -> bool:
    try:
        return bool(HASHER.verify(pin_hash, pin))
    except (VerificationError, InvalidHashError):
        return False


class CardPins:
    """Hashes PINs, and verifies them within the guess budgets and this node's capacity."""

    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow
        self._policy = policy_of(settings)
        #: the instant lockouts and windows are measured by (tests move it)
        self.clock = clock
        self.capacity = PinCapacity(
            settings.pin_verify_concurrency, settings.pin_verify_queue, settings.pin_asker_in_flight
        )
        #: the PIN check itself; tests replace it to hold verifications in flight
        self.matches: Callable[[str, str], bool] = matches

    @staticmethod
    def hash(pin: str) -> str:
        return HASHER.hash(pin)

    def verify(self, card: CardOnFile, pin: str, asker: str | None) -> None:
        """Return when ``pin`` is the card's; else raise a :class:`PinRefused` (wrong
        PIN, card locked, asker over its budget) or :class:`PinBusy`. Call it inside
        ``capacity.admitted(asker)``."""
        self._claim(card, asker)
        right = self.capacity.run(lambda: self.matches(card.pin_hash, pin))
        self._report(card, asker, right=right)
        if not right:
            raise InvalidPin("wrong PIN for this card")

    def verify_sealed(self, card: CardOnFile, pin: str) -> None:
        """The PIN of a call voxbill itself authorized (sealed into RADIUS ``Class`` with
        the client's secret): not a guess, so neither counted nor stopped by a lockout
        that came after the authorization (a caller locking their own card mid-call
        must not make the call free); checked in a slot all the same."""
        if not self.capacity.run(lambda: self.matches(card.pin_hash, pin)):
            raise InvalidPin("wrong PIN for this card")

    def _claim(self, card: CardOnFile, asker: str | None) -> None:
        refused: VoxbillError | None = None
        with self._uow.transaction() as tx:
            now = self.clock()
            counter = tx.card_pins.lock_card(card.identifier_id, now)
            asked = None if asker is None else tx.card_pins.lock_asker(asker, now)
            if rules.is_stale(counter, now, self._policy):
                counter = rules.lock(counter, now, self._policy)
                tx.card_pins.store_card(card.identifier_id, counter)
                self._locked(tx, card, counter, now)
            try:
                claimed = rules.claim(counter, asked, now, self._policy)
            except (PinRefused, PinBusy) as exc:
                refused = exc  # raised once the transaction (a stale lockout) commits
            else:
                tx.card_pins.store_card(card.identifier_id, claimed.card)
                if asker is not None and claimed.asker is not None:
                    tx.card_pins.store_asker(asker, claimed.asker)
        if refused is not None:
            log.info("card PIN refused for identifier %d: %s", card.identifier_id, refused.code)
            raise refused

    def _report(self, card: CardOnFile, asker: str | None, *, right: bool) -> None:
        with self._uow.transaction() as tx:
            now = self.clock()
            counter = tx.card_pins.lock_card(card.identifier_id, now)
            if right:
                changed = rules.after_right(counter, now)
                if asker is not None:
                    given_back = rules.asker_after_right(tx.card_pins.lock_asker(asker, now))
                    tx.card_pins.store_asker(asker, given_back)
            else:
                changed = rules.after_wrong(counter, now, self._policy)
                if changed is not None:
                    self._locked(tx, card, changed, now)
            if changed is not None:
                tx.card_pins.store_card(card.identifier_id, changed)

    def _locked(
        self, tx: Transaction, card: CardOnFile, counter: CardCounter, now: datetime
    ) -> None:
        """Tell the card's owner, through the outbox (delivered by the notifications)."""
        assert counter.locked_until is not None
        payload = {
            "event": PIN_LOCKED,
            "account_id": card.account_id,
            "identifier_id": card.identifier_id,
            "card": f"…{card.number[-4:]}",
            "failures": self._policy.max_failures,
            "lockouts": counter.lockouts,
            "locked_until": counter.locked_until.isoformat(),
            "at": now.isoformat(),
        }
        tx.ledger.add_outbox_event(
            PIN_LOCKED, card.account_id, json.dumps(payload, sort_keys=True), now
        )
        log.warning(
            "card identifier %d (account %d) locked until %s after %d wrong PINs",
            card.identifier_id,
            card.account_id,
            counter.locked_until.isoformat(),
            self._policy.max_failures,
        )
