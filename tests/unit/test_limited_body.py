"""A request body read under limits (``api/body.py``): bytes counted whatever the
framing, a read that waits too long, and nothing else mistaken for either."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxbill.api.body import BodyTimeout, BodyTooLarge, LimitedBody, announced


def _chunks(*parts: bytes) -> Any:
    messages = [{"type": "http.request", "body": p, "more_body": True} for p in parts]
    messages[-1]["more_body"] = False

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return receive


async def _never() -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def test_the_limit_is_counted_across_chunks() -> None:
    async def run() -> None:
        body = LimitedBody(_chunks(b"a" * 6, b"b" * 6), limit=10, timeout=60)
        assert (await body())["body"] == b"a" * 6
        with pytest.raises(BodyTooLarge) as refused:
            await body()
        assert refused.value.status_code == 413
        assert not body.ended  # the rest was never read: the connection must close

        exact = LimitedBody(_chunks(b"a" * 6, b"b" * 4), limit=10, timeout=60)
        await exact()
        assert (await exact())["more_body"] is False
        assert exact.ended
        assert (await exact())["type"] == "http.disconnect"  # the server's own again

    asyncio.run(run())


def test_a_read_that_waits_past_the_timeout_is_a_408() -> None:
    async def run() -> None:
        body = LimitedBody(_never, limit=10, timeout=0.05)
        with pytest.raises(BodyTimeout) as timed_out:
            await asyncio.wait_for(body(), 30)  # 30 s: only a guard against a hang
        assert timed_out.value.status_code == 408
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0  # its own cancellation was taken back

    asyncio.run(run())


def test_someone_else_s_cancellation_is_not_a_timeout() -> None:
    async def run() -> None:
        body = LimitedBody(_never, limit=10, timeout=60)
        reading = asyncio.ensure_future(body())
        await asyncio.sleep(0)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        body.close()

    asyncio.run(run())


def test_what_a_request_announces() -> None:
    assert announced([(b"content-length", b"0")]) == (False, 0)
    assert announced([(b"content-length", b"12")]) == (True, 12)
    assert announced([(b"transfer-encoding", b"chunked")]) == (True, None)
    assert announced([(b"host", b"x")]) == (False, None)
