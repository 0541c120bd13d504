"""Calling-card PIN guessing, pure: when a PIN may be verified, and what a result does.

A card PIN has 4 to 12 digits: whatever the hash, an unthrottled asker finds it. Two
counters bound the guesses, both kept in the database (every node sees them):

* per card: wrong PINs since the last right one. The attempt is counted *before* its
  PIN is verified (a claim), so concurrent guesses cannot all slip under the threshold:
  once ``max_failures`` attempts are counted, others are refused without verification
  (:class:`~voxbill.domain.errors.PinBusy` while some are in flight) and the first of
  them found wrong locks the card for ``lockout``, doubled at each lockout since the
  last right PIN (capped at ``lockout_max``). A locked card is refused, right PIN or
  not (:class:`~voxbill.domain.errors.CardLocked`). A right PIN clears the count.
* per asker (an API key, a NAS): wrong PINs (and attempts in flight) within a fixed
  window, over every card, each right PIN offsetting one; at ``asker_max_failures`` the
  asker is refused without any verification
  (:class:`~voxbill.domain.errors.TooManyPinFailures`) until the window ends. This stops
  spraying a few guesses over many cards, and never cuts off a busy switch whose callers
  mostly type their PIN right.

An attempt whose node died between claim and result stays counted (a failure, the safe
side); a card whose every counted attempt is older than ``stale`` is locked then.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from voxbill.domain.errors import CardLocked, PinBusy, TooManyPinFailures
from voxbill.domain.identifiers import IdentifiedCaller, IdentifierType


@dataclass(frozen=True, slots=True)
class CardOnFile:
    """A card identifier as found for a call: whose it is and its PIN's hash."""

    identifier_id: int
    account_id: int
    number: str
    pin_hash: str
    #: the account's materialised path (tenancy is checked before any PIN)
    path: str
    #: a batch card's state and expiry (``domain/cards.py``); None: a card without a batch
    state: str | None = None
    expires_at: datetime | None = None

    @property
    def caller(self) -> IdentifiedCaller:
        return IdentifiedCaller(self.account_id, self.identifier_id, IdentifierType.CARD, self.path)


@dataclass(frozen=True, slots=True)
class PinPolicy:
    max_failures: int = 5
    lockout: timedelta = timedelta(seconds=300)
    lockout_max: timedelta = timedelta(days=1)
    asker_max_failures: int = 20
    asker_window: timedelta = timedelta(seconds=600)
    #: an attempt counted this long ago without a result: its node died (a failure)
    stale: timedelta = timedelta(seconds=60)

    def lockout_for(self, lockouts: int) -> timedelta:
        """The ``lockouts``-th lockout since the last right PIN (0: the first)."""
        seconds = self.lockout.total_seconds() * 2 ** min(lockouts, 32)
        return min(timedelta(seconds=seconds), self.lockout_max)


@dataclass(frozen=True, slots=True)
class CardCounter:
    """One card's guesses: ``failures`` counts wrong PINs and attempts still being
    verified, since the last right PIN or lockout."""

    failures: int = 0
    lockouts: int = 0
    locked_until: datetime | None = None
    updated_at: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True, slots=True)
class AskerCounter:
    """One asker's attempts (wrong or still being verified) in the window from ``since``."""

    since: datetime
    failures: int = 0


@dataclass(frozen=True, slots=True)
class Claimed:
    """The counters once an attempt is counted, to be stored before its PIN is verified."""

    card: CardCounter
    asker: AskerCounter | None


def lock(card: CardCounter, now: datetime, policy: PinPolicy) -> CardCounter:
    return CardCounter(
        failures=0,
        lockouts=card.lockouts + 1,
        locked_until=now + policy.lockout_for(card.lockouts),
        updated_at=now,
    )


def claim(
    card: CardCounter, asker: AskerCounter | None, now: datetime, policy: PinPolicy
) -> Claimed:
    """Count one attempt before verifying its PIN, or raise why it may not be verified.
    The asker's budget is checked first: an asker over it learns nothing about the card."""
    if asker is not None:
        if now >= asker.since + policy.asker_window:
            asker = AskerCounter(now)
        if asker.failures >= policy.asker_max_failures:
            raise TooManyPinFailures("too many wrong PINs from this asker: try again later")
    if card.locked(now):
        raise CardLocked("too many wrong PINs: this card is locked for a while")
    if card.failures >= policy.max_failures:
        raise PinBusy("this card's PIN is being checked: retry")
    counted = replace(card, failures=card.failures + 1, updated_at=now)
    counted_asker = None if asker is None else replace(asker, failures=asker.failures + 1)
    return Claimed(counted, counted_asker)


def is_stale(card: CardCounter, now: datetime, policy: PinPolicy) -> bool:
    """Every guess counted, none reported for ``stale``: the nodes that counted them died."""
    return (
        not card.locked(now)
        and card.failures >= policy.max_failures
        and card.updated_at is not None
        and now - card.updated_at >= policy.stale
    )


def after_wrong(card: CardCounter, now: datetime, policy: PinPolicy) -> CardCounter | None:
    """A wrong PIN (already counted by its claim): the lockout once the count is full,
    else nothing to change (None)."""
    if card.locked(now) or card.failures < policy.max_failures:
        return None
    return lock(card, now, policy)


def after_right(card: CardCounter, now: datetime) -> CardCounter | None:
    """A right PIN clears the count, unless a concurrent wrong guess locked the card
    meanwhile (the lock stands); None: nothing to change."""
    if card.locked(now):
        return None
    return CardCounter(updated_at=now)


def asker_after_right(asker: AskerCounter) -> AskerCounter:
    """A right PIN gives its own counted attempt back to the asker, and offsets one
    earlier wrong PIN: the budget is of wrong PINs *not offset by right ones*, so a busy
    switch whose callers mistype now and then is never cut off, while a spray of
    guesses (mostly wrong) is."""
    return replace(asker, failures=max(0, asker.failures - 2))
