"""Exact money: one way to make a Decimal, one rounding rule, splits that add back up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxbill.domain.errors import InvalidMoney
from voxbill.domain.money import (
    DECIMAL_PATTERN,
    RoundingMethod,
    canonical,
    currency_places,
    normalize_currency,
    parse_decimal,
    ratio_split,
    round_amount,
    to_decimal,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.05", Decimal("0.05")),
        ("10.50", Decimal("10.50")),
        ("-1.5", Decimal("-1.5")),
        ("+2", Decimal(2)),
        ("0", Decimal(0)),
        ("007.10", Decimal("7.10")),
        (7, Decimal(7)),
        (Decimal("0.1166666"), Decimal("0.1166666")),
    ],
)
def test_to_decimal_accepts_exact_inputs(value: object, expected: Decimal) -> None:
    result = to_decimal(value)
    assert isinstance(result, Decimal)
    assert result == expected


@pytest.mark.parametrize(
    "value", [0.1, 1.0, True, False, "NaN", "Infinity", "-inf", "abc", "", "1,5", None, [1]]
)
def test_to_decimal_refuses_floats_and_garbage(value: object) -> None:
    with pytest.raises(InvalidMoney):
        to_decimal(value)


#: Text Decimal() reads but the published form (ASCII digits, sign, point) does not.
LAX_FORMS = [
    "1e3",  # exponent
    "1E+2",
    "1_000",  # underscore separator
    "\u0661\u0662",  # Arabic-Indic "12"
    "\uff11\uff12",  # full-width "12"
    "\u0967",  # Devanagari 1
    " 1",  # padding
    "1 ",
    "\t1",
    "1\n",
    "NaN",
    "Infinity",
    "-Infinity",
    "sNaN",
    ".5",
    "5.",
    "--1",
    "+-1",
    "1.2.3",
    "1,5",
    "",
    "+",
]


@pytest.mark.parametrize("text", LAX_FORMS)
def test_only_the_published_decimal_form_is_money(text: str) -> None:
    with pytest.raises(InvalidMoney, match="not a decimal number"):
        parse_decimal(text)
    with pytest.raises(InvalidMoney):
        to_decimal(text)


@given(
    st.from_regex(DECIMAL_PATTERN, fullmatch=True).filter(
        lambda text: text.isascii() and "\n" not in text
    )
)
def test_every_text_of_the_published_pattern_parses(text: str) -> None:
    assert parse_decimal(text) == Decimal(text)


def test_a_refused_text_is_not_echoed_whole() -> None:
    with pytest.raises(InvalidMoney) as refused:
        parse_decimal("9" * 100_000 + "x")
    assert len(refused.value.message) < 200
    assert "100001 characters" in refused.value.message


def test_float_message_names_the_problem() -> None:
    with pytest.raises(InvalidMoney, match="float"):
        to_decimal(0.1, what="rate")


@pytest.mark.parametrize(
    ("currency", "places", "amount", "rounded"),
    [
        ("EUR", 2, "1.005", "1.01"),
        ("USD", 2, "0.115", "0.12"),
        ("JPY", 0, "100.5", "101"),
        ("BHD", 3, "1.0005", "1.001"),
        ("KWD", 3, "2.3334", "2.333"),
        ("CLF", 4, "1.00005", "1.0001"),
    ],
)
def test_rounding_to_the_currency_minor_unit(
    currency: str, places: int, amount: str, rounded: str
) -> None:
    assert currency_places(currency) == places
    result = round_amount(to_decimal(amount), currency_places(currency), RoundingMethod.HALF_UP)
    assert result == Decimal(rounded)
    assert str(result) == rounded  # the exponent is the currency's too


@pytest.mark.parametrize(
    ("method", "positive", "negative", "tie"),
    [
        (RoundingMethod.HALF_UP, "0.1167", "-0.1167", "0.0003"),
        (RoundingMethod.HALF_EVEN, "0.1167", "-0.1167", "0.0002"),
        (RoundingMethod.UP, "0.1167", "-0.1167", "0.0003"),
        (RoundingMethod.DOWN, "0.1166", "-0.1166", "0.0002"),
        (RoundingMethod.CEILING, "0.1167", "-0.1166", "0.0003"),
        (RoundingMethod.FLOOR, "0.1166", "-0.1167", "0.0002"),
    ],
)
def test_rounding_methods(method: RoundingMethod, positive: str, negative: str, tie: str) -> None:
    exact = Decimal(7) / Decimal(60)  # 0.1/min for 70 s: 0.11666…
    assert round_amount(exact, 4, method) == Decimal(positive)
    assert round_amount(-exact, 4, method) == Decimal(negative)
    assert round_amount(Decimal("0.00025"), 4, method) == Decimal(tie)


def test_round_amount_keeps_the_requested_exponent() -> None:
    assert str(round_amount(Decimal("0.045"), 4, RoundingMethod.HALF_UP)) == "0.0450"
    assert str(round_amount(Decimal("12"), 0, RoundingMethod.HALF_UP)) == "12"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("1E+2"), "100"),
        (Decimal("-0"), "0"),
        (Decimal("-0.00"), "0.00"),
        (Decimal("1E-10"), "0.0000000001"),
        (Decimal("0.0450"), "0.0450"),
    ],
)
def test_canonical_has_no_exponent(amount: Decimal, text: str) -> None:
    assert canonical(amount) == text


def test_normalize_currency() -> None:
    assert normalize_currency(" eur ") == "EUR"
    for bad in ("EU", "EURO", "E1R", "ÉUR", ""):
        with pytest.raises(InvalidMoney):
            normalize_currency(bad)


def test_ratio_split_worked_examples() -> None:
    assert ratio_split(Decimal("100.00"), [1, 1, 1], 2) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert ratio_split(Decimal("0.05"), [1, 1], 2) == [Decimal("0.03"), Decimal("0.02")]
    assert ratio_split(Decimal("-1.00"), [1, 2], 2) == [Decimal("-0.33"), Decimal("-0.67")]
    assert ratio_split(Decimal("10"), [0, 3], 0) == [Decimal(0), Decimal(10)]


@pytest.mark.parametrize("ratios", [[], [0, 0], [1, -1]])
def test_ratio_split_refuses_bad_ratios(ratios: list[int]) -> None:
    with pytest.raises(InvalidMoney):
        ratio_split(Decimal("1.00"), ratios, 2)


def test_ratio_split_refuses_amounts_finer_than_the_grid() -> None:
    with pytest.raises(InvalidMoney):
        ratio_split(Decimal("1.005"), [1, 1], 2)


@settings(max_examples=300, deadline=None)
@given(
    units=st.integers(min_value=-(10**12), max_value=10**12),
    places=st.integers(min_value=0, max_value=8),
    ratios=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(
        lambda r: sum(r) > 0
    ),
)
def test_ratio_split_adds_back_exactly(units: int, places: int, ratios: list[int]) -> None:
    amount = Decimal(units).scaleb(-places)
    parts = ratio_split(amount, ratios, places)
    assert len(parts) == len(ratios)
    assert sum(parts, Decimal(0)) == amount
    unit = Decimal(1).scaleb(-places)
    total = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        assert part == part.quantize(unit)  # on the grid
        assert abs(part - amount * ratio / total) < unit  # within one unit of the exact share
        if ratio == 0:
            assert part == 0
