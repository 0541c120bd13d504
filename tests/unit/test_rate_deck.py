"""Reading carrier rate decks: delimiters, aliases, and line-numbered problems."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from voxbill.domain.errors import RateDeckError
from voxbill.domain.rate_deck import MAX_CELL_CHARS, Deck, read_deck


def deck(text: str, **options: object) -> Deck:
    return read_deck(text.splitlines(keepends=True), **options)  # type: ignore[arg-type]


def only_problem(result: Deck) -> tuple[int, str]:
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters(delimiter: str) -> None:
    text = "\n".join(
        delimiter.join(row)
        for row in [
            ["prefix", "destination", "rate", "connect_fee", "initial_increment", "increment"],
            ["33", "France", "0.025", "0.01", "30", "6"],
            ["336", "France Mobile", "0.09", "0", "60", "60"],
        ]
    )
    result = deck(text + "\n")
    assert result.problems == []
    assert result.rows_read == 2
    first = result.rows[0].rate
    assert (first.prefix, first.destination, first.rate) == ("33", "France", Decimal("0.025"))
    assert (first.connect_fee, first.initial_increment, first.increment) == (
        Decimal("0.01"),
        30,
        6,
    )
    assert result.rows[1].rate.rate == Decimal("0.09")
    assert [row.line for row in result.rows] == [2, 3]


def test_defaults() -> None:
    rate = deck("prefix,rate\n44,0.02\n").rows[0].rate
    assert rate.destination == ""
    assert rate.connect_fee == Decimal(0)
    assert rate.initial_rate is None
    assert rate.first_rate == Decimal("0.02")
    assert (rate.initial_increment, rate.increment, rate.min_duration, rate.grace) == (1, 1, 0, 0)
    assert rate.effective_from is None
    assert rate.effective_to is None
    assert rate.time_profile is None


@pytest.mark.parametrize(
    "header",
    [
        "code,price,interval_1,interval_n",
        "dialcode,rate_per_minute,interval_1,interval_n",
        "dial_code,Price,Interval_1,Interval_N",
        "PREFIX,RATE,INITIAL_INCREMENT,INCREMENT",
        " Dial Code ; Price ; Interval-1 ; Interval-N ",
    ],
)
def test_header_aliases(header: str) -> None:
    delimiter = ";" if ";" in header else ","
    row = delimiter.join(["4915", "0.11", "30", "6"])
    rate = deck(f"{header}\n{row}\n").rows[0].rate
    assert (rate.prefix, rate.rate, rate.initial_increment, rate.increment) == (
        "4915",
        Decimal("0.11"),
        30,
        6,
    )


def test_all_contract_columns() -> None:
    result = deck(
        "prefix,destination,rate,connect_fee,initial_rate,initial_increment,increment,"
        "min_duration,grace,effective_from,effective_to,time_profile\n"
        "447,UK Mobile,0.08,0.01,0.12,30,6,10,3,2026-04-01,2026-05-01T12:00:00Z,"
        "mon-fri 08:00-18:00\n"
    )
    rate = result.rows[0].rate
    assert rate.initial_rate == Decimal("0.12")
    assert (rate.min_duration, rate.grace) == (10, 3)
    assert rate.effective_from == datetime(2026, 4, 1, tzinfo=UTC)
    assert rate.effective_to == datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert rate.time_profile is not None
    assert rate.time_profile.spec == "mon-fri 08:00-18:00"


def test_byte_order_mark_on_the_header() -> None:
    rate = deck("\ufeffprefix,rate\n44,0.02\n").rows[0].rate
    assert rate.prefix == "44"


def test_quoted_fields() -> None:
    result = deck(
        'prefix,destination,rate\n82,"Korea, Republic of",0.03\n"850","North ""Korea""",1.5\n'
    )
    assert result.problems == []
    assert result.rows[0].rate.destination == "Korea, Republic of"
    assert result.rows[1].rate.destination == 'North "Korea"'
    assert result.rows[1].rate.rate == Decimal("1.5")


def test_plus_before_the_prefix_and_blank_lines() -> None:
    result = deck("prefix,rate\n\n+44,0.02\n   \n45,0.03\n")
    assert [r.rate.prefix for r in result.rows] == ["44", "45"]
    assert [r.line for r in result.rows] == [3, 5]
    assert result.rows_read == 2


def test_decimal_comma_in_a_semicolon_deck() -> None:
    assert deck("prefix;rate\n44;0,05\n").rows[0].rate.rate == Decimal("0.05")


def test_dates_without_offset_are_read_in_the_plan_timezone() -> None:
    result = deck(
        "prefix,rate,effective_from\n44,0.1,2026-07-01\n45,0.1,2026-07-01T09:30:00\n"
        "46,0.1,2026-07-01T09:30:00+02:00\n",
        timezone="Europe/London",
    )
    assert [r.rate.effective_from for r in result.rows] == [
        datetime(2026, 6, 30, 23, 0, tzinfo=UTC),
        datetime(2026, 7, 1, 8, 30, tzinfo=UTC),
        datetime(2026, 7, 1, 7, 30, tzinfo=UTC),
    ]


# --- problems, each with its file line ------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("44,abc", "not a decimal number"),
        ("44,", "rate is empty"),
        ("44,-0.1", "non-negative"),
        ("44,NaN", "not a decimal number"),
        ("44,0.123456789", "more than 8 decimal places"),
        ("44,123456789012345678901", "too large"),
        ("44,1e30", "not a decimal number"),
        (",0.1", "prefix is empty"),
        ("44a,0.1", "digits only"),
        ("123456789012345678901,0.1", "longer than 20"),
        ("0044,0.1", "must start with the country code"),
        ("44,0.1,,,,," + "|".join(["mon 08:00-09:00"] * 13), "longer than 200"),
        ("44,0.1,abc", "initial_increment"),
        ("44,0.1,0", "at least 1 second"),
        ("44,0.1,1.5", "whole number"),
        ("44,0.1,²", "whole number"),
        ("44,0.1,90000", "longer than a day"),
        ("44,0.1,,,2026-02-30", "ISO 8601"),
        ("44,0.1,,,yesterday", "ISO 8601"),
        ("44,0.1,,,2026-05-01,2026-04-01", "effective_to must be after"),
        ("44,0.1,,,,,mon-fri 08:00", "time profile"),
        ("44,0.1,,,,,funday", "time profile"),
        ("44,0.1,,,,,08:00-25:00", "time profile"),
        ("44,0.1,,0.1234567891", "more than 8 decimal places"),
    ],
)
def test_bad_rows_are_reported_with_their_line(row: str, message: str) -> None:
    text = (
        "prefix,rate,initial_increment,connect_fee,effective_from,effective_to,time_profile\n"
        "33,0.025\n"
        "\n"
        f"{row}\n"
        "34,0.02\n"
    )
    result = deck(text)
    line, problem = only_problem(result)
    assert line == 4
    assert message in problem
    assert [r.rate.prefix for r in result.rows] == ["33", "34"]
    assert result.rows_read == 3


def test_eight_places_are_accepted_exactly() -> None:
    assert deck("prefix,rate\n44,0.12345678\n").rows[0].rate.rate == Decimal("0.12345678")
    assert deck("prefix,rate\n44,0.123456780\n").rows[0].rate.rate == Decimal("0.12345678")


def test_line_numbers_count_lines_of_multi_line_quoted_fields() -> None:
    text = 'prefix,destination,rate\n33,"France\nmetropolitan",0.02\n34,Spain,bad\n35,"x\ny",bad\n'
    result = deck(text)
    not_decimal = (
        "rate 'bad' is not a decimal number (ASCII digits with an optional decimal point or comma)"
    )
    assert result.problems == [(4, not_decimal), (5, not_decimal)]
    assert result.rows[0].line == 2


def test_duplicates_are_reported_against_the_first_line() -> None:
    result = deck("prefix,rate,time_profile\n44,0.1,\n45,0.1,\n44,0.2,\n44,0.3,sat-sun\n")
    line, message = only_problem(result)
    assert line == 4
    assert "repeats line 2" in message
    assert [r.rate.rate for r in result.rows] == [Decimal("0.1"), Decimal("0.1"), Decimal("0.3")]


def test_same_prefix_with_different_effective_dates_is_not_a_duplicate() -> None:
    result = deck("prefix,rate,effective_from\n44,0.1,\n44,0.2,2026-04-01\n")
    assert result.problems == []
    assert len(result.rows) == 2


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("prefix,rate,prefix", "appears twice"),
        ("Rate,prefix,RATE", "appears twice"),
        ("destination,rate", "no 'prefix' column"),
        ("prefix,destination", "no 'rate' column"),
        ("prefix|rate", "no 'prefix' column"),  # "|" is not a delimiter
    ],
)
def test_bad_headers_stop_the_whole_deck(header: str, message: str) -> None:
    with pytest.raises(RateDeckError) as caught:
        deck(f"{header}\n44,0.1,x\n")
    assert message in caught.value.message
    assert caught.value.message.startswith("line 1:")
    assert caught.value.problems[0][0] == 1


def test_unknown_columns_are_ignored_and_the_closest_alias_wins() -> None:
    result = deck(
        "notes,code,prefix,price,Rate (USD),country,destination\n"
        "x,1,44,9.99,0.02,GB,United Kingdom\n"
    )
    rate = result.rows[0].rate
    assert (rate.prefix, rate.rate, rate.destination) == ("44", Decimal("0.02"), "United Kingdom")


@pytest.mark.parametrize("text", ["", "\n", "   \n44,0.1\n"])
def test_an_empty_deck_is_refused(text: str) -> None:
    with pytest.raises(RateDeckError):
        deck(text)


def test_progress_counts_every_row() -> None:
    seen: list[int] = []
    rows = "".join(f"{4400 + i},0.01\n" for i in range(25))
    read_deck(("prefix,rate\n" + rows).splitlines(keepends=True), progress=seen.append, every=10)
    assert sum(seen) == 25


def test_carrier_extras_are_ignored_but_named() -> None:
    deck = read_deck(
        [
            "Country;Dial Code;Destination Name;Rate (USD);Interval 1;Interval N;conect_fee\n",
            "UK;+447;UK Mobile;0,08;30;6;0.01\n",
        ]
    )
    rate = deck.rows[0].rate
    assert (rate.prefix, rate.destination, rate.rate) == ("447", "UK Mobile", Decimal("0.08"))
    assert (rate.initial_increment, rate.increment) == (30, 6)
    assert rate.connect_fee == 0  # the misspelt column is not read, but it is reported
    assert deck.ignored_columns == ["conect_fee"]


# --- numbers in exactly the published form (issue 10, finding 15) ---------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("44,1_0", "rate '1_0' is not a decimal number"),  # Decimal() reads 10
        ("44,1_000.5", "not a decimal number"),
        ("44,1e3", "not a decimal number"),
        ("44,\u0661\u0662", "not a decimal number"),  # Arabic-Indic 12
        ("44,\uff11\uff12", "not a decimal number"),  # full-width 12
        ("44,Infinity", "not a decimal number"),
        ("44,.5", "not a decimal number"),
        ("44,5.", "not a decimal number"),
        ("44,0.1,6_0", "initial_increment '6_0' must be a whole number"),  # int() reads 60
        ("44,0.1,\u0666\u0660", "whole number"),  # Arabic-Indic 60
        ("44,0.1,\uff16\uff10", "whole number"),  # full-width 60
        ("44,0.1,,0_1", "connect_fee '0_1' is not a decimal number"),
        ("44,0.1,,,,,0_8:00-18:00", "is not HH:MM"),  # int() reads 8
        ("44,0.1,,,,,\u0660\u0668:00-18:00", "is not HH:MM"),
        ("44,0.1,,,,,08:00-1 8:00", "time profile"),
    ],
)
def test_numbers_take_only_the_published_form(row: str, message: str) -> None:
    text = (
        "prefix,rate,initial_increment,connect_fee,effective_from,effective_to,time_profile\n"
        f"{row}\n"
    )
    line, problem = only_problem(deck(text))
    assert line == 2
    assert message in problem


def test_increment_column_is_ascii_digits_too() -> None:
    line, problem = only_problem(deck("prefix,rate,increment\n44,0.1,6_0\n"))
    assert (line, problem) == (2, "increment '6_0' must be a whole number of seconds")


def test_padding_around_a_cell_is_not_part_of_the_number() -> None:
    result = deck("prefix, rate, increment\n44, 0.05 , 60\n45,\t1\t,6\n")
    assert [(r.rate.rate, r.rate.increment) for r in result.rows] == [
        (Decimal("0.05"), 60),
        (Decimal(1), 6),
    ]


# --- cell sizes (issue 10, finding 17) --------------------------------------------------------


def test_a_cell_over_the_cell_limit_is_a_line_numbered_problem() -> None:
    long = "x" * (MAX_CELL_CHARS + 1)
    result = deck(f"prefix,rate,notes\n44,0.1,ok\n45,0.1,{long}\n46,0.1,{'y' * MAX_CELL_CHARS}\n")
    assert result.problems == [(3, f"column 3 is longer than {MAX_CELL_CHARS} characters")]
    assert [r.rate.prefix for r in result.rows] == ["44", "46"]


def test_a_header_cell_over_the_cell_limit_stops_the_deck() -> None:
    with pytest.raises(RateDeckError, match=f"line 1: column 3 is longer than {MAX_CELL_CHARS}"):
        deck(f"prefix,rate,{'n' * (MAX_CELL_CHARS + 1)}\n44,0.1\n")


@pytest.mark.parametrize("size", [128 * 1024 + 1, 1024 * 1024])
def test_a_cell_past_the_csv_module_limit_is_one_clear_error(size: int) -> None:
    """The csv module raises ``_csv.Error: field larger than field limit (131072)``."""
    text = f'prefix,rate,destination\n44,0.1,UK\n45,0.1,"{"z" * size}"\n46,0.1,FR\n'
    with pytest.raises(RateDeckError) as refused:
        deck(text)
    assert refused.value.message == (
        f"line 3: a cell is longer than {MAX_CELL_CHARS} characters; nothing was imported"
    )
    assert refused.value.problems == [(3, f"a cell is longer than {MAX_CELL_CHARS} characters")]


def test_a_huge_quoted_cell_over_many_lines_names_the_line_it_starts_on() -> None:
    many = "\n".join(["w" * 1000] * 200)  # 200 short lines, one 200 KB cell
    text = f'prefix,rate,destination\n44,0.1,"a\nb"\n45,0.1,"{many}"\n'
    with pytest.raises(RateDeckError, match="^line 4: a cell is longer than"):
        deck(text)


def test_a_huge_header_cell_is_one_clear_error() -> None:
    with pytest.raises(RateDeckError, match="^line 1: a cell is longer than"):
        deck(f"prefix,rate,{'h' * (200 * 1024)}\n44,0.1\n")
