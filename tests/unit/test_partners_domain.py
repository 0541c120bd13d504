"""The pure partner rules (seed 003): who is cut off at which balances, and the link."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from voxbill.domain import partners
from voxbill.domain.accounts import (
    Account,
    AccountKind,
    AccountStatus,
    BalanceSettings,
    CutoffMode,
    Limits,
    Plans,
)
from voxbill.domain.errors import InvalidInput

M = CutoffMode


def account(id_: int, path: str, kind: AccountKind, mode: M = M.NONE, **extra: object) -> Account:
    found = Account(
        id=id_,
        parent_id=int(path.strip("/").split("/")[-2]) if path.count("/") > 2 else None,
        path=path,
        depth=path.count("/") - 2,
        kind=kind,
        name=f"#{id_}",
        status=AccountStatus.ACTIVE,
        currency="USD",
        balance=BalanceSettings(cutoff_mode=mode),
        limits=Limits(),
        plans=Plans(),
        timezone="UTC",
        tax_profile=None,
    )
    return replace(found, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "inbound", "outbound", "cut"),
    [
        (M.NONE, D("-100"), D("0"), False),
        (M.INBOUND, D("0.01"), D("0"), False),
        (M.INBOUND, D("0"), D("-50"), True),  # earnings do not count for inbound
        (M.OUTBOUND, D("-5"), D("0"), False),  # outbound never cuts its calls to us
        (M.MUTUAL, D("-0.10"), D("-0.10"), True),  # net 0
        (M.MUTUAL, D("-0.10"), D("-0.11"), False),  # net +0.01
        (M.MUTUAL, D("0.10"), D("0.10"), True),  # we prepaid it as much as it paid us
    ],
)
def test_inbound_cut(mode: M, inbound: D, outbound: D, cut: bool) -> None:
    assert partners.inbound_cut(mode, inbound, outbound) is cut


def test_outbound_cut_and_the_governing_mode() -> None:
    vendor = account(5, "/1/5/", AccountKind.VENDOR)
    assert partners.vendor_mode(vendor, None) is M.NONE
    linked = replace(vendor, partner_id=7)
    assert partners.vendor_mode(linked, M.OUTBOUND) is M.OUTBOUND
    assert partners.outbound_cut(M.OUTBOUND, D("0")) is True
    assert partners.outbound_cut(M.OUTBOUND, D("0.01")) is False
    assert partners.outbound_cut(M.MUTUAL, D("-9")) is False  # mutual never stops routing


def test_every_level_of_the_chain_is_checked_and_outbound_read_only_for_mutual() -> None:
    reseller = account(2, "/1/2/", AccountKind.RESELLER, M.MUTUAL)
    customer = account(3, "/1/2/3/", AccountKind.CUSTOMER)
    root = account(1, "/1/", AccountKind.OPERATOR)
    asked: list[int] = []

    def outbound(a: Account) -> D:
        asked.append(a.id)
        return D("-1")

    balances = {2: D("-1"), 3: D("5")}
    why = partners.cut_off([customer, reseller, root], lambda a: balances[a.id], outbound)
    assert why is not None
    assert "account 2 is cut off (mutual" in why
    assert asked == [2]


def test_a_link_needs_a_vendor_and_a_customer_side_in_one_currency() -> None:
    vendor = account(5, "/1/5/", AccountKind.VENDOR)
    customer = account(7, "/1/7/", AccountKind.CUSTOMER)
    partners.check_link(vendor, customer, 1)
    prepaid = account(5, "/1/5/", AccountKind.VENDOR, M.OUTBOUND)
    for bad, code in [
        ((customer, vendor, 1), "invalid_partner"),
        ((vendor, account(9, "/9/", AccountKind.OPERATOR), 1), "invalid_partner"),
        ((vendor, account(8, "/2/8/", AccountKind.CUSTOMER), 1), "invalid_partner"),
        ((vendor, replace(customer, currency="EUR"), 1), "partner_currency_mismatch"),
        ((prepaid, customer, 1), "cutoff_on_vendor_side"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            partners.check_link(*bad)
        assert refused.value.code == code


def test_a_position() -> None:
    customer = account(7, "/1/7/", AccountKind.CUSTOMER, M.MUTUAL)
    found = partners.position(customer, 5, D("-0.10"), D("-0.30"))
    assert (found.net_position, found.inbound_cut_off, found.outbound_cut_off) == (
        D("0.20"),
        False,
        False,
    )
