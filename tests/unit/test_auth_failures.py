"""Failed API keys per source, in process: a window from the first failure, a limit,
forgotten when the window ends (issue 10, finding 20)."""

from __future__ import annotations

from voxbill.services.access.failures import InProcessAuthFailures


def test_a_source_is_blocked_at_the_limit_until_its_window_ends() -> None:
    now = [100.0]
    failures = InProcessAuthFailures(3, 60, clock=lambda: now[0])
    for _ in range(2):
        failures.failed("198.51.100.1")
    assert failures.blocked_for("198.51.100.1") == 0
    now[0] += 10
    failures.failed("198.51.100.1")
    assert failures.blocked_for("198.51.100.1") == 50  # the window began at the first
    assert failures.blocked_for("198.51.100.2") == 0  # per source
    now[0] += 50
    assert failures.blocked_for("198.51.100.1") == 0
    failures.failed("198.51.100.1")  # a new window, one failure in it
    assert failures.blocked_for("198.51.100.1") == 0


def test_ended_windows_are_forgotten_when_the_table_grows() -> None:
    now = [0.0]
    failures = InProcessAuthFailures(1, 1, clock=lambda: now[0])
    for n in range(1023):
        failures.failed(f"10.0.{n // 256}.{n % 256}")
    now[0] = 5.0
    failures.failed("10.9.9.9")  # the 1024th source: the ended windows are dropped
    assert len(failures._sources) == 1
    assert failures.blocked_for("10.9.9.9") == 1.0
