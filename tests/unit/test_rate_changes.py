"""Price changes of a deck import, worked by hand: what change notices are made of."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from voxbill.domain.rate_changes import PriceChange, change_counts, diff_rates, rate_keys
from voxbill.domain.rates import Rate
from voxbill.domain.time_profile import parse_time_profile

LATER = datetime(2027, 1, 1, tzinfo=UTC)


def test_new_increased_decreased_and_unchanged_prices() -> None:
    old = [Rate("441", D("0.10"), "UK"), Rate("442", D("0.20"), "UK"), Rate("443", D("0.30"))]
    new = [Rate("441", D("0.12"), "UK"), Rate("442", D("0.15"), "UK"), Rate("443", D("0.30"))]
    new.append(Rate("33", D("0.05"), "France"))
    changes = diff_rates(old, new, replace=False)
    assert changes == [
        PriceChange("33", None, "France", "new", None, D("0.05"), None),
        PriceChange("441", None, "UK", "increased", D("0.10"), D("0.12"), None),
        PriceChange("442", None, "UK", "decreased", D("0.20"), D("0.15"), None),
    ]
    assert change_counts(changes) == {"new": 1, "increased": 1, "decreased": 1}


def test_replace_reports_removed_prices_and_merge_does_not() -> None:
    old = [Rate("441", D("0.10"), "UK"), Rate("49", D("0.07"), "Germany")]
    new = [Rate("441", D("0.10"), "UK")]
    assert diff_rates(old, new, replace=False) == []
    assert diff_rates(old, new, replace=True) == [
        PriceChange("49", None, "Germany", "removed", D("0.07"), None, None)
    ]


def test_the_price_compared_is_the_one_that_takes_effect_last() -> None:
    old = [Rate("441", D("0.10"))]
    new = [Rate("441", D("0.09"), effective_from=LATER), Rate("441", D("0.11"))]
    assert diff_rates(old, new, replace=False) == [
        PriceChange("441", None, "", "decreased", D("0.10"), D("0.09"), LATER)
    ]


def test_time_profiles_are_separate_prices_and_part_of_a_row_key() -> None:
    weekend = parse_time_profile("sat-sun")
    old = [Rate("441", D("0.10"))]
    new = [Rate("441", D("0.10")), Rate("441", D("0.05"), time_profile=weekend)]
    assert diff_rates(old, new, replace=False) == [
        PriceChange("441", weekend.spec, "", "new", None, D("0.05"), None)
    ]
    assert rate_keys(new) == [("441", None, None), ("441", weekend.spec, None)]
