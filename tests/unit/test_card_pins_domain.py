"""The PIN guessing rules, pure (``domain/card_pins.py``): lockout and its backoff, the
asker's window, and — over any interleaving of concurrent guesses — never more PINs
verified than the threshold before the card locks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxbill.domain import card_pins as rules
from voxbill.domain.card_pins import AskerCounter, CardCounter, PinPolicy
from voxbill.domain.errors import CardLocked, PinBusy, PinRefused, TooManyPinFailures

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = PinPolicy(max_failures=5, lockout=timedelta(seconds=300))


def test_lockouts_double_up_to_the_cap() -> None:
    policy = PinPolicy(lockout=timedelta(seconds=300), lockout_max=timedelta(hours=1))
    assert [policy.lockout_for(n).total_seconds() for n in range(6)] == [
        300,
        600,
        1200,
        2400,
        3600,
        3600,
    ]
    assert policy.lockout_for(10_000) == timedelta(hours=1)


def test_a_locked_card_refuses_until_the_lockout_ends() -> None:
    card = CardCounter(failures=5, updated_at=T0)
    locked = rules.after_wrong(card, T0, POLICY)
    assert locked == CardCounter(0, 1, T0 + timedelta(seconds=300), T0)
    with pytest.raises(CardLocked):
        rules.claim(locked, None, T0 + timedelta(seconds=299), POLICY)
    claimed = rules.claim(locked, None, T0 + timedelta(seconds=300), POLICY)
    assert claimed.card.failures == 1
    assert rules.after_right(locked, T0) is None  # a concurrent right PIN leaves the lock
    assert rules.after_right(claimed.card, T0 + timedelta(seconds=301)) == CardCounter(
        updated_at=T0 + timedelta(seconds=301)
    )


def test_the_asker_is_checked_first_and_its_window_resets() -> None:
    asker = AskerCounter(T0, failures=20)
    locked = CardCounter(0, 1, T0 + timedelta(hours=1), T0)
    with pytest.raises(TooManyPinFailures):  # says nothing about the card
        rules.claim(locked, asker, T0 + timedelta(seconds=599), POLICY)
    later = T0 + timedelta(seconds=600)
    claimed = rules.claim(CardCounter(), asker, later, POLICY)
    assert claimed.asker == AskerCounter(later, 1)
    # a right PIN gives back its own counted attempt and offsets one wrong PIN
    assert rules.asker_after_right(AskerCounter(T0, 5)) == AskerCounter(T0, 3)
    assert rules.asker_after_right(AskerCounter(T0, 1)) == AskerCounter(T0, 0)


def test_counted_guesses_that_never_report_go_stale() -> None:
    card = CardCounter(failures=5, updated_at=T0)
    with pytest.raises(PinBusy):
        rules.claim(card, None, T0 + timedelta(seconds=59), POLICY)
    assert not rules.is_stale(card, T0 + timedelta(seconds=59), POLICY)
    assert rules.is_stale(card, T0 + timedelta(seconds=60), POLICY)


@given(st.lists(st.booleans(), min_size=1, max_size=60))
def test_no_interleaving_of_concurrent_guesses_verifies_more_than_the_threshold(
    steps: list[bool],
) -> None:
    """``True``: a new guess tries to claim; ``False``: the oldest guess in flight is
    found wrong. However they interleave, at most ``max_failures`` guesses are ever
    verified, and once they are all found wrong the card is locked."""
    card = CardCounter()
    in_flight = verified = 0
    for new_guess in [*steps, *([False] * 60)]:
        if new_guess:
            try:
                card = rules.claim(card, None, T0, POLICY).card
            except (PinRefused, PinBusy):
                continue
            in_flight += 1
            verified += 1
        elif in_flight:
            in_flight -= 1
            card = rules.after_wrong(card, T0, POLICY) or card
        assert verified <= POLICY.max_failures
    assert card.locked(T0) is (verified == POLICY.max_failures)
