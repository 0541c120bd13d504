"""Synthetic but realistic rate decks for the benchmarks (deterministic for a seed).

Prefixes are ITU country codes followed by operator ranges of varied length (most real
decks carry 4 to 9 digit prefixes). Every country code is itself a row, so any number
built from a country code finds a rate. About 0.1% of the prefixes carry a peak and an
off-peak row (time profiles), and about 0.2% an expired price plus a newer one
(effective dates). Prices are decimal strings: no float ever touches money.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from voxbill.domain.rates import Rate, RatePlan
from voxbill.domain.time_profile import parse_time_profile

_COUNTRY_CODES_TEXT = (
    "1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 211 212 213 216 218 220 221 "
    "222 223 224 225 226 227 228 229 230 231 232 233 234 235 236 237 238 239 240 241 242 "
    "243 244 245 246 248 249 250 251 252 253 254 255 256 257 258 260 261 262 263 264 265 "
    "266 267 268 269 290 291 297 298 299 350 351 352 353 354 355 356 357 358 359 370 371 "
    "372 373 374 375 376 377 378 380 381 382 383 385 386 387 389 420 421 423 500 501 502 "
    "503 504 505 506 507 508 509 590 591 592 593 594 595 596 597 598 599 670 672 673 674 "
    "675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 691 692 850 852 853 855 "
    "856 880 886 960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 992 "
    "993 994 995 996 998"
)
COUNTRY_CODES = tuple(_COUNTRY_CODES_TEXT.split())
#: Digits after the country code: weights favour 2 to 5, as in carrier decks.
_RANGE_LENGTHS = (1, 2, 3, 4, 5, 6, 7)
_RANGE_WEIGHTS = (2, 10, 20, 30, 25, 10, 3)
_INCREMENTS = ((1, 1), (1, 1), (6, 6), (30, 6), (60, 60), (60, 1))
PEAK = "mon-fri 08:00-18:00"
OFF_PEAK = "mon-fri 18:00-08:00|sat-sun|holidays"
#: When the older of two effective-dated prices stops and the newer one starts.
CHANGE_AT = datetime(2025, 1, 1, tzinfo=UTC)
DECK_HEADER = (
    "prefix,destination,rate,connect_fee,initial_rate,initial_increment,increment,"
    "min_duration,grace,effective_from,effective_to,time_profile"
)


@dataclass(frozen=True, slots=True)
class DeckLine:
    """One deck row as the text a carrier would send."""

    prefix: str
    destination: str
    rate: str
    connect_fee: str = "0"
    initial_rate: str = ""
    initial_increment: int = 1
    increment: int = 1
    min_duration: int = 0
    grace: int = 0
    effective_from: str = ""
    effective_to: str = ""
    time_profile: str = ""

    def csv(self) -> str:
        return (
            f"{self.prefix},{self.destination},{self.rate},{self.connect_fee},"
            f"{self.initial_rate},{self.initial_increment},{self.increment},"
            f"{self.min_duration},{self.grace},{self.effective_from},{self.effective_to},"
            f"{self.time_profile}"
        )

    def rate_row(self) -> Rate:
        """The same row as the deck parser would build it (dates here are UTC)."""
        return Rate(
            prefix=self.prefix,
            rate=Decimal(self.rate),
            destination=self.destination,
            connect_fee=Decimal(self.connect_fee),
            initial_rate=Decimal(self.initial_rate) if self.initial_rate else None,
            initial_increment=self.initial_increment,
            increment=self.increment,
            min_duration=self.min_duration,
            grace=self.grace,
            effective_from=_instant(self.effective_from),
            effective_to=_instant(self.effective_to),
            time_profile=parse_time_profile(self.time_profile) if self.time_profile else None,
        )


def _instant(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def prefixes(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct prefixes: every country code, then operator ranges."""
    rng = random.Random(seed)
    found = dict.fromkeys(COUNTRY_CODES)
    # big countries get more ranges, as in real decks
    weights = [8 if len(cc) == 1 else 4 if len(cc) == 2 else 1 for cc in COUNTRY_CODES]
    while len(found) < count:
        batch = count - len(found)
        ccs = rng.choices(COUNTRY_CODES, weights, k=batch)
        lengths = rng.choices(_RANGE_LENGTHS, _RANGE_WEIGHTS, k=batch)
        for cc, length in zip(ccs, lengths, strict=True):
            found[cc + str(rng.randrange(10**length)).zfill(length)] = None
    return list(found)[:count]


def deck_lines(count: int, seed: int = 7) -> Iterator[DeckLine]:
    """About ``count`` deck rows over ``count`` prefixes (a few prefixes have two rows)."""
    rng = random.Random(seed + 1)
    for index, prefix in enumerate(prefixes(count, seed)):
        cents = rng.randrange(10, 250_000)  # 0.0001 to 25 per minute, 4 to 6 places
        rate = f"{cents // 10_000}.{cents % 10_000:04d}{rng.choice(('', '', '5', '25'))}"
        first, step = rng.choice(_INCREMENTS)
        name = f"Dest {prefix[:3]} range {index % 997}"
        fee = rng.choice(("0", "0", "0", "0.01", "0.025"))
        if index % 1000 == 1:
            yield DeckLine(prefix, name, rate, fee, "", first, step, time_profile=PEAK)
            cheap = _cheaper(rate)
            yield DeckLine(prefix, name, cheap, fee, "", first, step, time_profile=OFF_PEAK)
        elif index % 500 == 3:
            old = _cheaper(rate)
            stop = CHANGE_AT.isoformat()
            yield DeckLine(prefix, name, old, fee, "", first, step, effective_to=stop)
            yield DeckLine(prefix, name, rate, fee, "", first, step, effective_from=stop)
        elif index % 50 == 7:
            yield DeckLine(prefix, name, rate, fee, _cheaper(rate), 60, 6, 60, 5)
        else:
            yield DeckLine(prefix, name, rate, fee, "", first, step)


def _cheaper(rate: str) -> str:
    return str((Decimal(rate) * Decimal("0.6")).quantize(Decimal("0.000001")))


def build_plan(count: int, seed: int = 7) -> RatePlan:
    return RatePlan("bench", "USD", [line.rate_row() for line in deck_lines(count, seed)])


def numbers(plan_prefixes: list[str], count: int, seed: int = 11) -> list[str]:
    """Random E.164 numbers (11 to 13 digits) under the plan's prefixes."""
    rng = random.Random(seed)
    out = []
    for prefix in rng.choices(plan_prefixes, k=count):
        total = max(len(prefix) + 1, rng.choice((11, 12, 12, 13)))
        tail = total - len(prefix)
        out.append(prefix + str(rng.randrange(10**tail)).zfill(tail))
    return out
