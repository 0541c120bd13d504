"""Reading carrier rate decks (CSV) into rate rows, with line-numbered problems.

Columns are matched case-insensitively, with the aliases real carrier decks use; the
delimiter (comma, semicolon or tab) is taken from the header row. Dates without a
timezone are read in the plan's timezone; a date alone means its midnight.

Numbers take one strict form (``Decimal()`` and ``int()`` would read "1_0" as 10 and
"١٢" as 12): prices are ASCII decimals, with a point or a decimal comma; seconds are
ASCII digits. A cell is at most :data:`MAX_CELL_CHARS` characters: a longer one is a
line-numbered problem, and one past the csv module's own limit (128 KiB) ends the read
with one line-numbered error, never a ``_csv.Error`` traceback.
"""

from __future__ import annotations

import csv
import decimal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from voxbill.domain.errors import InvalidInput, InvalidMoney, RateDeckError
from voxbill.domain.messaging import network_key
from voxbill.domain.money import STORAGE_PLACES, parse_decimal, shown_text
from voxbill.domain.rates import Rate
from voxbill.domain.sms import parse_mcc_mnc
from voxbill.domain.time_profile import TimeProfile, parse_time_profile

_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "prefix": (
        "prefix",
        "code",
        "dialcode",
        "dial_code",
        "dial code",
        "dialcodes",
        "pattern",
        "prefixes",
        "destination_code",
        "country_code_prefix",
    ),
    "rate": (
        "rate",
        "price",
        "rate_per_minute",
        "price_per_minute",
        "per_minute",
        "cost",
        "rate_min",
        "rate/min",
        "price/min",
        "ratepermin",
    ),
    "destination": (
        "destination",
        "destination_name",
        "description",
        "dest",
        "name",
        "zone",
        "country",
    ),
    "connect_fee": (
        "connect_fee",
        "connection_fee",
        "connect_charge",
        "setup_fee",
        "connection_charge",
        "connectfee",
    ),
    "initial_rate": ("initial_rate", "first_rate", "initial_price", "rate_initial"),
    "initial_increment": (
        "initial_increment",
        "interval_1",
        "interval1",
        "first_interval",
        "min_increment",
        "initial_block",
        "increment_1",
        "initblock",
    ),
    "increment": (
        "increment",
        "interval_n",
        "intervaln",
        "next_interval",
        "billing_increment",
        "subsequent_increment",
        "increment_n",
        "billingblock",
    ),
    "min_duration": ("min_duration", "minimum_duration", "minimum", "min_time"),
    "grace": ("grace", "grace_seconds", "free_seconds", "grace_period"),
    "effective_from": (
        "effective_from",
        "effective_date",
        "valid_from",
        "start_date",
        "effective",
        "activation_date",
    ),
    "effective_to": ("effective_to", "end_date", "valid_to", "expiry_date", "valid_until"),
    "time_profile": ("time_profile", "profile", "time_band", "timeband", "period"),
    # SMS plans: a row priced for one mobile network instead of a dial prefix
    "mcc_mnc": ("mcc_mnc", "mccmnc", "mcc/mnc", "plmn"),
}
_BY_ALIAS: Final = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_PLACES_UNIT: Final = Decimal(1).scaleb(-STORAGE_PLACES)
#: Prices must fit storage (SQLite keeps 10^-8 units in a signed 64-bit integer).
MAX_PRICE: Final = Decimal(10) ** 10
MAX_DURATION_FIELD: Final = 86400
MAX_PROFILE_LENGTH: Final = 200  # the stored column's width
#: The longest deck cell, in characters: the longest column stored is 200 characters,
#: so this leaves room for notes columns while bounding what one row may hold.
MAX_CELL_CHARS: Final = 4096
_MEMO_LIMIT: Final = 100_000  # distinct texts remembered per column kind while reading


@dataclass(frozen=True, slots=True)
class DeckRow:
    line: int
    rate: Rate


@dataclass
class Deck:
    """What a deck file yielded: good rows, problems by line, rows read."""

    rows: list[DeckRow] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    rows_read: int = 0
    #: header cells that are no rate deck column (notes, flags… or a misspelling)
    ignored_columns: list[str] = field(default_factory=list)


def _key(name: str) -> str:
    return name.strip().lower().lstrip("\ufeff").strip().replace("-", "_")


def sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d])
    return delimiter if counts[delimiter] else ","


def _canonical(raw: str) -> tuple[str, int] | None:
    """A header cell's canonical column and how good a match it is (lower is better)."""
    key = _key(raw)
    if "(" in key:  # "Rate (USD)", "Interval (s)"
        key = key.split("(", 1)[0].strip()
    for candidate in (key, key.replace(" ", "_"), key.replace(" ", "")):
        name = _BY_ALIAS.get(candidate)
        if name is not None:
            return name, _ALIASES[name].index(candidate)
    return None


def map_columns(header: list[str]) -> dict[str, int]:
    """Canonical column name -> index.

    Columns voxbill does not know (notes, country codes, change flags) are ignored, as
    real carrier decks carry them; when two columns mean the same thing, the closer name
    wins (``destination`` over ``country``), and an exact repeat is refused.
    """
    found: dict[str, tuple[int, int]] = {}
    for index, raw in enumerate(header):
        match = _canonical(raw)
        if match is None:
            continue
        name, rank = match
        previous = found.get(name)
        if previous is not None and previous[1] == rank:
            raise RateDeckError(
                f"line 1: column {raw.strip()!r} appears twice",
                [(1, f"duplicate column {name}")],
            )
        if previous is None or rank < previous[1]:
            found[name] = (index, rank)
    columns = {name: index for name, (index, _) in found.items()}
    for required in ("prefix", "rate"):
        if required == "prefix" and "mcc_mnc" in columns:
            continue
        if required not in columns:
            raise RateDeckError(
                f"line 1: the header has no {required!r} column",
                [(1, f"missing column {required}")],
            )
    return columns


class _RowReader:
    """Turns one CSV record into a Rate; raises InvalidInput with a plain message."""

    def __init__(self, columns: dict[str, int], zone: ZoneInfo) -> None:
        self.columns = columns
        self.zone = zone
        self.profiles: dict[str, TimeProfile] = {}
        self.get = dict(columns)
        # Decks repeat their prices, increments and dates: each distinct text is checked and
        # converted once (the checks do not depend on the column, only the messages do).
        self.amounts: dict[str, Decimal] = {}
        self.seconds: dict[str, int] = {}
        self.instants: dict[str, datetime] = {}

    def _text(self, record: list[str], name: str) -> str:
        index = self.get.get(name)
        if index is None or index >= len(record):
            return ""
        return record[index].strip()

    def _money(self, record: list[str], name: str, default: Decimal | None) -> Decimal | None:
        text = self._text(record, name)
        if not text:
            if default is None and name == "rate":
                raise InvalidInput("rate is empty")
            return default
        known = self.amounts.get(text)
        if known is not None:
            return known
        try:  # "0,05": a decimal comma, as semicolon decks write it
            value = parse_decimal(text.replace(",", ".", 1) if "." not in text else text)
        except InvalidMoney:
            raise InvalidInput(
                f"{name} {shown_text(text)} is not a decimal number "
                "(ASCII digits with an optional decimal point or comma)"
            ) from None
        if value < 0:
            raise InvalidInput(f"{name} {shown_text(text)} must be a non-negative number")
        if value >= MAX_PRICE:
            raise InvalidInput(
                f"{name} {shown_text(text)} is too large (must be below {MAX_PRICE})"
            )
        if value.quantize(_PLACES_UNIT, rounding=decimal.ROUND_DOWN) != value:
            raise InvalidInput(
                f"{name} {shown_text(text)} has more than {STORAGE_PLACES} decimal places"
            )
        if len(self.amounts) < _MEMO_LIMIT:
            self.amounts[text] = value
        return value

    def _seconds(self, record: list[str], name: str, default: int) -> int:
        text = self._text(record, name)
        if not text:
            return default
        known = self.seconds.get(text)
        if known is not None:
            return known
        if not text.isdigit() or not text.isascii():
            raise InvalidInput(f"{name} {shown_text(text)} must be a whole number of seconds")
        value = int(text)
        if value > MAX_DURATION_FIELD:
            raise InvalidInput(f"{name} {shown_text(text)} is longer than a day")
        if len(self.seconds) < _MEMO_LIMIT:
            self.seconds[text] = value
        return value

    def _instant(self, record: list[str], name: str) -> datetime | None:
        text = self._text(record, name)
        if not text:
            return None
        known = self.instants.get(text)
        if known is not None:
            return known
        try:
            if len(text) == 10:
                parsed = datetime.combine(date.fromisoformat(text), time(0))
            else:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{name} {text!r} is not an ISO 8601 date or time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.zone)
        instant = parsed.astimezone(ZoneInfo("UTC"))
        if len(self.instants) < _MEMO_LIMIT:
            self.instants[text] = instant
        return instant

    def _profile(self, record: list[str]) -> TimeProfile | None:
        text = self._text(record, "time_profile")
        if not text:
            return None
        if len(text) > MAX_PROFILE_LENGTH:
            raise InvalidInput(f"time profile is longer than {MAX_PROFILE_LENGTH} characters")
        profile = self.profiles.get(text)
        if profile is None:
            profile = self.profiles[text] = parse_time_profile(text)
        return profile

    def _prefix(self, record: list[str]) -> str:
        prefix = self._text(record, "prefix").lstrip("+")
        network = self._text(record, "mcc_mnc")
        if network:
            if prefix:
                raise InvalidInput("a row is keyed by prefix or by mcc_mnc, not both")
            return network_key(parse_mcc_mnc(network))
        if not prefix:
            raise InvalidInput("prefix is empty")
        if not prefix.isdigit() or not prefix.isascii():
            raise InvalidInput(f"prefix {prefix!r} must be digits only")
        if len(prefix) > 20:
            raise InvalidInput(f"prefix {prefix!r} is longer than 20 digits")
        if prefix[0] == "0":  # E.164 numbers never start with 0: the row could never match
            raise InvalidInput(f"prefix {prefix!r} must start with the country code, not 0")
        return prefix

    def read(self, record: list[str]) -> Rate:
        prefix = self._prefix(record)
        rate = self._money(record, "rate", None)
        assert rate is not None
        initial = self._seconds(record, "initial_increment", 1)
        return Rate(
            prefix=prefix,
            rate=rate,
            destination=self._text(record, "destination")[:200],
            connect_fee=self._money(record, "connect_fee", Decimal(0)) or Decimal(0),
            initial_rate=self._money(record, "initial_rate", None),
            initial_increment=initial,
            increment=self._seconds(record, "increment", 1),
            min_duration=self._seconds(record, "min_duration", 0),
            grace=self._seconds(record, "grace", 0),
            effective_from=self._instant(record, "effective_from"),
            effective_to=self._instant(record, "effective_to"),
            time_profile=self._profile(record),
        )


_ALLOWED_CONTROLS = frozenset("\t\r\n")  # a quoted cell may span lines


def _bad_cell(record: list[str]) -> str | None:
    """Why a record is refused for one of its cells, if it is: too long, or holding a
    control character (PostgreSQL cannot store NUL; the others corrupt exports and logs)."""
    for column, cell in enumerate(record, start=1):
        if len(cell) > MAX_CELL_CHARS:
            return f"column {column} is longer than {MAX_CELL_CHARS} characters"
        for char in cell:
            if (ord(char) < 32 or ord(char) == 127) and char not in _ALLOWED_CONTROLS:
                return f"column {column} holds a control character (U+{ord(char):04X})"
    return None


def _records(
    lines: Iterator[str], delimiter: str, *, first_line: int = 1
) -> Iterator[tuple[int, list[str]]]:
    """Each CSV record with the file line it starts on (a quoted cell may span lines).

    A cell past the csv module's limit (128 KiB, process-wide, so not lowered here) stops
    the read with one line-numbered error: the reader cannot resync inside a quoted cell.
    """
    records = csv.reader(lines, delimiter=delimiter)
    start = first_line
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            why = (
                f"a cell is longer than {MAX_CELL_CHARS} characters"
                if "field larger than field limit" in str(exc)
                else f"unreadable CSV ({exc})"
            )
            raise RateDeckError(
                f"line {start}: {why}; nothing was imported", [(start, why)]
            ) from None
        yield start, record
        start = first_line + records.line_num


def read_deck(
    lines: Iterable[str],
    *,
    timezone: str = "UTC",
    progress: Callable[[int], None] | None = None,
    every: int = 10_000,
) -> Deck:
    """Parse a deck; every bad row becomes a ``(line, message)`` problem, none is dropped."""
    iterator: Iterator[str] = iter(lines)
    header_line = next(iterator, None)
    if header_line is None or not header_line.strip():
        raise RateDeckError(
            "line 1: the deck is empty; a header row is required", [(1, "empty deck")]
        )
    delimiter = sniff_delimiter(header_line)
    header = next((record for _, record in _records(iter([header_line]), delimiter)), [])
    bad_header = _bad_cell(header)
    if bad_header is not None:
        raise RateDeckError(f"line 1: {bad_header}", [(1, bad_header)])
    reader = _RowReader(map_columns(header), ZoneInfo(timezone))
    deck = Deck(ignored_columns=[c.strip() for c in header if c.strip() and not _canonical(c)])
    seen: dict[tuple[str, str | None, datetime | None], int] = {}
    for line, record in _records(iterator, delimiter, first_line=2):
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        deck.rows_read += 1
        if progress is not None and deck.rows_read % every == 0:
            progress(every)
        bad = _bad_cell(record)
        if bad is not None:
            deck.problems.append((line, bad))
            continue
        try:
            rate = reader.read(record)
        except InvalidInput as exc:
            deck.problems.append((line, exc.message))
            continue
        key = (
            rate.prefix,
            rate.time_profile.spec if rate.time_profile else None,
            rate.effective_from,
        )
        earlier = seen.get(key)
        if earlier is not None:
            deck.problems.append(
                (
                    line,
                    f"prefix {rate.prefix} repeats line {earlier} "
                    "(same time profile and effective date)",
                )
            )
            continue
        seen[key] = line
        deck.rows.append(DeckRow(line, rate))
    if progress is not None:
        progress(deck.rows_read % every)
    return deck
