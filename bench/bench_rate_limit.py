"""Message rate-limit acquires per second: in process, and through Redis (one Lua call each).

    .venv/bin/python bench/bench_rate_limit.py
    VOXBILL_TEST_REDIS_URL=redis://host:6379/15 .venv/bin/python bench/bench_rate_limit.py

Keys are spread over 1,000 accounts at 100 msg/s each, so most acquires are admitted
(the refused path costs the same). Figures are for one thread and for 8 threads sharing
one limiter; Redis keys go under a unique prefix that is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid

import redis

from voxbill.services.messaging.rate_limit import InProcessRateLimiter, RateLimiter
from voxbill.storage.messaging.redis_rate_limit import RedisRateLimiter

ACCOUNTS = 1000
RATE = 100


def run(limiter: RateLimiter, total: int, threads: int) -> tuple[float, int]:
    """Acquires per second over ``total`` acquires split across ``threads``."""
    per_thread = total // threads
    allowed = [0] * threads
    barrier = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        barrier.wait()
        count = 0
        for n in range(per_thread):
            count += limiter.acquire(f"acct-{(index * per_thread + n) % ACCOUNTS}", RATE).allowed
        allowed[index] = count

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    return per_thread * threads / elapsed, sum(allowed)


def report(name: str, limiter: RateLimiter, total: int) -> None:
    run(limiter, min(total, 2000), 1)  # warm-up (and, for Redis, load the script)
    for threads in (1, 8):
        rate, allowed = run(limiter, total, threads)
        print(f"{name:<11} {threads} thread(s): {rate:>10,.0f} acquires/s ({allowed:,} admitted)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer acquires")
    args = parser.parse_args()
    scale = 1 if args.quick else 5
    report("in-process", InProcessRateLimiter(), 100_000 * scale)
    url = os.environ.get("VOXBILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        print(f"redis       SKIPPED: {url} unreachable ({exc})")
        return
    prefix = f"voxbill-bench:{uuid.uuid4().hex}:"
    try:
        print(f"redis {client.info('server')['redis_version']} at {url}")
        report("redis", _redis(url, prefix), 10_000 * scale)
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _redis(url: str, prefix: str) -> RedisRateLimiter:
    pool = redis.Redis.from_url(url, socket_timeout=5, max_connections=16)
    return RedisRateLimiter(pool, prefix=prefix)


if __name__ == "__main__":
    main()
