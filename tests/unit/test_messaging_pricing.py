"""Pure SMS pricing: per-segment cost rounded once, network rows, deck rows by MCC/MNC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from voxbill.domain.errors import NoRate, RateDeckError
from voxbill.domain.messaging import describe_key, network_key, price_message
from voxbill.domain.money import RoundingMethod
from voxbill.domain.rate_deck import read_deck
from voxbill.domain.rates import Rate, RatePlan
from voxbill.domain.sms import MccMnc

AT = datetime(2026, 3, 2, 12, tzinfo=UTC)


def plan(*rates: Rate, decimals: int = 4) -> RatePlan:
    return RatePlan("sms", "USD", rates, decimals=decimals, rounding=RoundingMethod.HALF_UP)


def test_cost_is_segments_times_price_plus_fee_rounded_once() -> None:
    rounded = plan(Rate("44", D("0.0125"), connect_fee=D("0.001")), decimals=2)
    # 0.001 + 3 x 0.0125 = 0.0385 -> 0.04 (rounding each segment would give 0.03)
    assert price_message(rounded, "447700900123", 3, AT).cost == D("0.04")


def test_network_keys_never_meet_numbers_or_each_other() -> None:
    assert network_key(MccMnc("310", "260")) == "03310260"
    assert network_key(MccMnc("310", "26")) == "0231026"
    assert describe_key("03310260") == "310-260"
    assert describe_key("0231026") == "310-26"
    assert describe_key("447") == "447"
    two_digit = Rate(network_key(MccMnc("310", "26")), D("0.02"))
    sms = plan(Rate("1", D("0.01")), two_digit)
    # 310-260 is another network than 310-26: the prefix prices it
    assert price_message(sms, "13105550100", 1, AT, MccMnc("310", "260")).key == "1"
    assert price_message(sms, "13105550100", 1, AT, MccMnc("310", "26")).key == "310-26"
    with pytest.raises(NoRate):
        price_message(plan(two_digit), "13105550100", 1, AT)


def test_a_deck_row_is_keyed_by_prefix_or_by_network() -> None:
    deck = read_deck(["prefix,MCC-MNC,rate\n", "44,,0.04\n", ",234-15,0.045\n", ",23410,0.03\n"])
    assert deck.problems == []
    assert [r.rate.prefix for r in deck.rows] == ["44", "0223415", "0223410"]
    only_networks = read_deck(["mccmnc;rate\n", "310260;0.01\n"])
    assert [r.rate.prefix for r in only_networks.rows] == ["03310260"]
    bad = read_deck(["prefix,mcc_mnc,rate\n", "44,23415,0.04\n", ",31,0.04\n", ",,0.04\n"])
    assert [line for line, _ in bad.problems] == [2, 3, 4]
    assert "not both" in bad.problems[0][1]
    with pytest.raises(RateDeckError):
        read_deck(["rate,destination\n", "0.01,x\n"])
