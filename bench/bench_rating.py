"""Prefix lookups and call rating in process, over synthetic 100k- and 1M-prefix plans.

    .venv/bin/python bench/bench_rating.py            # 100k and 1M prefixes
    .venv/bin/python bench/bench_rating.py --quick    # 100k only, fewer runs

Prints, per plan size: plan build time and memory, prefix lookups/s on one core
(``RatePlan.lookup``), microseconds per lookup + rounded cost (``Tariff.cost``), per call
rated with its explanation (``rate_call``, a ``Rating``), per ``max_duration`` and, for a
prefix whose peak and off-peak rows split a call, per segmented call. Each figure is the
median of several runs after a warm-up. Targets (issue 2): >= 500,000 lookups/s on the
100k plan; <= 3 us per call.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import build_plan, numbers  # noqa: E402

from voxbill.domain.rates import RatePlan  # noqa: E402
from voxbill.domain.rating import Tariff, rate_call  # noqa: E402

LOOKUP_TARGET = 500_000  # per second, 100k plan
RATE_TARGET_US = 3.0
#: A Tuesday 17:55 UTC: a 15-minute call to a time-profiled prefix crosses 18:00.
PEAK_EDGE = datetime(2026, 3, 10, 17, 55, tzinfo=UTC)
START = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
WALL_CLOCK = "--wall" in sys.argv


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def median_rate(run: Callable[[], int], runs: int) -> float:
    """Median operations per CPU second of ``run`` (which returns how many it did).

    CPU time of this process, not wall time, so that other processes on a shared machine
    are not counted; on an idle machine the two agree (``--wall`` prints wall time).
    """
    clock = time.perf_counter if WALL_CLOCK else time.process_time
    run()  # warm-up
    rates = []
    for _ in range(runs):
        begin = clock()
        done = run()
        rates.append(done / (clock() - begin))
    return statistics.median(rates)


def bench_plan(size: int, runs: int, calls: int) -> None:
    gc.collect()
    before = rss_mib()
    begin = time.perf_counter()
    plan = build_plan(size)
    built = time.perf_counter() - begin
    memory = rss_mib() - before
    prefixes = list({row.prefix for row in plan.rows()})
    profiled = sorted({row.prefix for row in plan.rows() if row.time_profile is not None})
    dialled = numbers(prefixes, calls)
    rng = random.Random(3)
    durations = [rng.randrange(1, 600) for _ in dialled]
    amounts = [Decimal(rng.randrange(1, 5000)) / 100 for _ in dialled]
    peak_numbers = numbers(profiled, calls // 10, seed=5)
    lookup = plan.lookup

    def lookups() -> int:
        for number in dialled:
            lookup(number, START)
        return len(dialled)

    def costs() -> int:
        for number, duration in zip(dialled, durations, strict=True):
            Tariff(plan, number, START).cost(duration)
        return len(dialled)

    def ratings() -> int:
        for number, duration in zip(dialled, durations, strict=True):
            rate_call(plan, number, START, duration)
        return len(dialled)

    def max_durations() -> int:
        for number, amount in zip(dialled, amounts, strict=True):
            Tariff(plan, number, START).max_duration(amount)
        return len(dialled)

    def segmented() -> int:
        for number in peak_numbers:
            rate_call(plan, number, PEAK_EDGE, 900)
        return len(peak_numbers)

    def unsegmented_profiled() -> int:
        for number in peak_numbers:
            rate_call(plan, number, START, 120)
        return len(peak_numbers)

    lookup_rate = median_rate(lookups, runs)
    cost_us = 1e6 / median_rate(costs, runs)
    rate_us = 1e6 / median_rate(ratings, runs)
    max_us = 1e6 / median_rate(max_durations, max(3, runs // 2))
    profiled_us = 1e6 / median_rate(unsegmented_profiled, runs)
    segmented_us = 1e6 / median_rate(segmented, runs)
    _check_segmented(plan, peak_numbers[0])

    print(f"\n== plan of {size:,} prefixes ({len(plan):,} rows, {len(profiled)} time-profiled)")
    print(f"build RatePlan from Rate rows     {built:8.2f} s   (+{memory:,.0f} MiB RSS)")
    print(f"prefix lookups/s (one core)       {lookup_rate:12,.0f}{_verdict(size, lookup_rate)}")
    print(f"us per lookup + cost (Tariff.cost){cost_us:8.2f}{_us_verdict(cost_us)}")
    print(f"us per call rated (rate_call)     {rate_us:8.2f}{_us_verdict(rate_us)}")
    print(f"us per max_duration               {max_us:8.2f}")
    print(f"us per call, time-profiled prefix {profiled_us:8.2f}   (inside one profile)")
    print(f"us per call crossing peak edge    {segmented_us:8.2f}   (15 min at 17:55, 2 segments)")


def _check_segmented(plan: RatePlan, number: str) -> None:
    """The segmented bench must take the segmented path: peak then off-peak prices."""
    tariff = Tariff(plan, number, PEAK_EDGE)
    assert tariff.group.varies, "a time-profiled prefix must have two rows in force"


def _verdict(size: int, value: float) -> str:
    if size != 100_000:
        return ""
    return "   target >= 500,000: " + ("met" if value >= LOOKUP_TARGET else "MISSED")


def _us_verdict(value: float) -> str:
    return "   target <= 3 us: " + ("met" if value <= RATE_TARGET_US else "MISSED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k plan only, fewer runs")
    parser.add_argument("--wall", action="store_true", help="time by wall clock, not CPU")
    args = parser.parse_args()
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    runs = 3 if args.quick else 7
    calls = 100_000 if args.quick else 200_000
    clock = "wall clock" if args.wall else "CPU time of this process"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; one core used; {clock}")
    for size in sizes:
        bench_plan(size, runs, calls)


if __name__ == "__main__":
    main()
