"""The in-process token bucket, on a fake clock: exact admit counts and waits."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxbill.domain.errors import InvalidInput
from voxbill.services.messaging.rate_limit import Decision, InProcessRateLimiter, RateLimiter
from voxbill.settings import Settings
from voxbill.storage.messaging.redis_rate_limit import RedisRateLimiter, make_rate_limiter


class FakeClock:
    """Nanoseconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1_000_000_000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> InProcessRateLimiter:
    return InProcessRateLimiter(clock)


def admitted(limiter: RateLimiter, key: str, attempts: int, rate: int, **kw: int) -> int:
    return sum(limiter.acquire(key, rate, **kw).allowed for _ in range(attempts))


def test_burst_defaults_to_the_rate(limiter: InProcessRateLimiter) -> None:
    assert admitted(limiter, "acct-1", 50, 10) == 10
    assert limiter.acquire("acct-1", 10) == Decision(False, 0.1)


def test_explicit_burst(limiter: InProcessRateLimiter) -> None:
    assert admitted(limiter, "acct-1", 50, 10, burst=25) == 25
    assert admitted(limiter, "acct-2", 50, 10, burst=1) == 1


def test_refill_is_proportional_to_elapsed_time(
    limiter: InProcessRateLimiter, clock: FakeClock
) -> None:
    assert admitted(limiter, "a", 10, 10) == 10
    clock.advance(0.35)
    assert admitted(limiter, "a", 10, 10) == 3
    assert limiter.acquire("a", 10) == Decision(False, 0.05)
    clock.advance(0.05)
    assert limiter.acquire("a", 10) == Decision(True, 0.0)


def test_idle_bucket_refills_only_up_to_the_burst(
    limiter: InProcessRateLimiter, clock: FakeClock
) -> None:
    assert admitted(limiter, "a", 10, 10) == 10
    clock.advance(3600)
    assert admitted(limiter, "a", 50, 10) == 10


def test_waiting_retry_after_is_always_enough(
    limiter: InProcessRateLimiter, clock: FakeClock
) -> None:
    assert admitted(limiter, "a", 3, 3) == 3
    refusal = limiter.acquire("a", 3)
    assert refusal == Decision(False, 0.333334)  # rounded up to the microsecond
    clock.advance(refusal.retry_after - 0.000001)
    assert not limiter.acquire("a", 3).allowed
    clock.advance(0.000001)
    assert limiter.acquire("a", 3).allowed


def test_refused_requests_take_nothing(limiter: InProcessRateLimiter, clock: FakeClock) -> None:
    assert admitted(limiter, "a", 2, 2) == 2
    assert admitted(limiter, "a", 1000, 2) == 0
    clock.advance(0.5)
    assert limiter.acquire("a", 2).allowed


def test_cost_takes_several_tokens(limiter: InProcessRateLimiter, clock: FakeClock) -> None:
    assert admitted(limiter, "a", 5, 10, cost=3) == 3
    assert limiter.acquire("a", 10, cost=3) == Decision(False, 0.2)
    assert limiter.acquire("a", 10, cost=1) == Decision(True, 0.0)  # the last token
    clock.advance(0.2)
    assert limiter.acquire("a", 10, cost=3) == Decision(False, 0.1)
    clock.advance(0.1)
    assert limiter.acquire("a", 10, cost=3) == Decision(True, 0.0)


def test_keys_are_independent(limiter: InProcessRateLimiter) -> None:
    assert admitted(limiter, "a", 20, 5) == 5
    assert admitted(limiter, "b", 20, 7) == 7
    assert admitted(limiter, "a", 20, 5) == 0


def test_a_raised_limit_applies_at_once(limiter: InProcessRateLimiter) -> None:
    assert admitted(limiter, "a", 20, 5) == 5
    assert admitted(limiter, "a", 20, 50) == 0  # the bucket is empty: nothing to take yet


def test_a_lowered_burst_caps_the_stored_tokens(limiter: InProcessRateLimiter) -> None:
    assert admitted(limiter, "a", 1, 100) == 1
    assert admitted(limiter, "a", 20, 5) == 5


@pytest.mark.parametrize(
    ("rate", "burst", "cost"),
    [(0, None, 1), (-1, None, 1), (10, 0, 1), (10, None, 0), (10, None, 11), (10, 3, 4)],
)
def test_impossible_limits_are_refused(
    limiter: InProcessRateLimiter, rate: int, burst: int | None, cost: int
) -> None:
    with pytest.raises(InvalidInput):
        limiter.acquire("a", rate, burst, cost)


def test_concurrent_threads_share_one_limit(limiter: InProcessRateLimiter) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(10)

    def worker() -> None:
        barrier.wait()
        outcome = [limiter.acquire("shared", 100).allowed for _ in range(50)]
        results.extend(outcome)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 500
    assert sum(results) == 100


def test_full_buckets_are_forgotten(limiter: InProcessRateLimiter, clock: FakeClock) -> None:
    for n in range(1023):
        limiter.acquire(f"idle-{n}", 1)
    clock.advance(1)
    limiter.acquire("busy", 1)  # the 1024th bucket triggers a sweep of the refilled ones
    assert list(limiter._buckets) == ["busy"]
    assert admitted(limiter, "idle-0", 5, 1) == 1


@given(
    rate=st.integers(1, 50),
    burst=st.integers(1, 50),
    steps=st.lists(st.tuples(st.integers(0, 300_000), st.integers(1, 5)), max_size=60),
)
def test_never_more_than_burst_plus_refill(
    rate: int, burst: int, steps: list[tuple[int, int]]
) -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock)
    start = clock.now
    taken = 0
    for elapsed_us, cost in steps:
        clock.advance(elapsed_us / 1_000_000)
        decision = limiter.acquire("k", rate, burst, min(cost, burst))
        taken += min(cost, burst) if decision.allowed else 0
        assert decision.allowed == (decision.retry_after == 0)
        assert taken * 1_000_000 <= burst * 1_000_000 + (clock.now - start) // 1000 * rate


def test_factory_picks_in_process_without_redis_url() -> None:
    assert isinstance(make_rate_limiter(Settings(redis_url=None)), InProcessRateLimiter)


def test_factory_picks_redis_when_configured() -> None:
    limiter = make_rate_limiter(Settings(redis_url="redis://127.0.0.1:1/0"))  # never contacted
    assert isinstance(limiter, RedisRateLimiter)
    limiter.close()
