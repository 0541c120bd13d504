"""Dialled numbers to E.164 digits."""

from __future__ import annotations

import pytest

from voxbill.domain.errors import InvalidNumber
from voxbill.domain.numbers import normalize_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+442079460958", "442079460958"),
        ("00442079460958", "442079460958"),
        ("442079460958", "442079460958"),
        ("+44 20 7946 0958", "442079460958"),
        ("+1 (212) 555-0100", "12125550100"),
        ("0033.6.12.34.56.78", "33612345678"),
        ("+33/612/345/678", "33612345678"),
        ("  +33612345678\t", "33612345678"),
        ("sip:+33612345678@gw.example.net", "33612345678"),
        ("SIP:0033612345678@gw.example.net;user=phone", "33612345678"),
        ("sips:+4915112345678@example.org", "4915112345678"),
        ("tel:+1-212-555-0100", "12125550100"),
        ("tel:+12125550100;phone-context=example.com", "12125550100"),
        ("+44 (0)20 7946 0958", "442079460958"),  # the "(0)" trunk prefix is not dialled
        ("0044 (0) 20 7946 0958", "442079460958"),
    ],
)
def test_international_forms(raw: str, expected: str) -> None:
    assert normalize_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("020 7946 0958", "GB", "442079460958"),
        ("07911 123456", "gb", "447911123456"),
        ("06 12 34 56 78", "FR", "33612345678"),
        ("0151 12345678", "DE", "4915112345678"),
        ("+33612345678", "GB", "33612345678"),  # international stays international
        ("0033612345678", "GB", "33612345678"),
    ],
)
def test_national_numbers_with_a_default_region(raw: str, region: str, expected: str) -> None:
    assert normalize_number(raw, default_region=region) == expected


def test_other_international_prefix() -> None:
    assert normalize_number("011442079460958", international_prefix="011") == "442079460958"
    assert normalize_number("+442079460958", international_prefix="011") == "442079460958"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "+",
        "00",
        "+44abc",
        "02079460958",  # national, but no region to read it in
        "+0442079460958",
        "+4420794609581234",  # 16 digits
        "+٤٤٢٠٧٩٤٦٠٩٥٨",  # non-ASCII digits
        "sip:alice@example.com",
        "+44*123",
    ],
)
def test_refused_numbers(raw: str) -> None:
    with pytest.raises(InvalidNumber):
        normalize_number(raw)


def test_unreadable_national_number_is_refused_with_its_region() -> None:
    with pytest.raises(InvalidNumber):
        normalize_number("0", default_region="GB")
