"""Pure charging rules: who pays, per-call caps, concurrency policy, sweeper durations."""

from __future__ import annotations

from decimal import Decimal as D

from voxbill.domain.accounts import (
    Account,
    AccountKind,
    AccountStatus,
    BalanceSettings,
    Limits,
    Plans,
)
from voxbill.domain.charging import (
    HOLD_UNIT,
    SettleAt,
    SweepReason,
    concurrency_limit,
    corrections,
    fit_shared_books,
    hold_amount,
    levels,
    longest_within,
    margins,
    settle_duration,
)
from voxbill.domain.ledger import Funds


def account(
    id_: int,
    parent: int | None,
    kind: AccountKind,
    plan: str | None = None,
    limits: Limits | None = None,
    alert: str | None = None,
) -> Account:
    return Account(
        id=id_,
        parent_id=parent,
        path="/",
        depth=0,
        kind=kind,
        name=str(id_),
        status=AccountStatus.ACTIVE,
        currency="USD",
        balance=BalanceSettings(alert_balance=None if alert is None else D(alert)),
        limits=limits or Limits(),
        plans=Plans(rate_plan=plan),
        timezone="UTC",
        tax_profile=None,
    )


ROOT = account(1, None, AccountKind.OPERATOR, "never")
RESELLER = account(2, 1, AccountKind.RESELLER, "wholesale", Limits(max_call_cost=D("5")))
CUSTOMER = account(3, 2, AccountKind.CUSTOMER, "retail", Limits(max_call_cost=D("2")))
USER = account(4, 3, AccountKind.USER, None, Limits(max_call_cost=D("1")))


def test_levels_the_caller_pays_by_the_nearest_plan_and_each_plan_above_pays_once() -> None:
    found = levels([USER, CUSTOMER, RESELLER, ROOT])
    assert [(lv.account.id, lv.plan, lv.max_cost) for lv in found] == [
        (4, "retail", D("1")),  # the user, by its customer's plan, capped by both
        (2, "wholesale", D("5")),
    ]
    assert [lv.account.id for lv in levels([CUSTOMER, RESELLER, ROOT])] == [3, 2]
    assert levels([ROOT]) == []
    assert levels([account(5, 1, AccountKind.CUSTOMER), ROOT]) == []


def test_concurrency_limits() -> None:
    rich = Funds(D("100"), D("0"), "prepaid", D("0"), D("0"), D("50"))
    poor = Funds(D("10"), D("0"), "prepaid", D("0"), D("0"), D("50"))
    limited = account(
        6,
        1,
        AccountKind.CUSTOMER,
        limits=Limits(max_concurrent_calls=5, low_balance_concurrent_calls=2),
        alert="50",
    )
    assert concurrency_limit(limited, rich) == 5
    assert concurrency_limit(limited, poor) == 2
    assert concurrency_limit(account(7, 3, AccountKind.CARD), None) == 1
    assert concurrency_limit(CUSTOMER, None) is None


def test_sweeper_settles_at_the_last_report_else_by_the_operators_choice() -> None:
    reason = SweepReason
    for mode in SettleAt:  # a session that reported usage: its last report, whatever the mode
        assert settle_duration(mode, reported=True, used=40, granted=300) == (
            40,
            reason.LAST_USAGE,
        )
        assert settle_duration(mode, reported=True, used=400, granted=300) == (
            300,
            reason.LAST_USAGE,
        )  # never past the grant
        assert settle_duration(mode, reported=True, used=0, granted=300) == (0, reason.LAST_USAGE)
    for mode in (SettleAt.NOTHING, SettleAt.USAGE):  # "usage": the name before issue 12
        assert settle_duration(mode, reported=False, used=0, granted=300) == (
            0,
            reason.NO_USAGE_NOTHING,
        )
    for mode in (SettleAt.GRANT, SettleAt.AUTO):  # "auto": the name before issue 12
        assert settle_duration(mode, reported=False, used=0, granted=300) == (
            300,
            reason.NO_USAGE_GRANT,
        )
    assert [r.value for r in SweepReason] == [
        "no_stop_last_usage",
        "no_stop_no_usage_nothing",
        "no_stop_no_usage_grant",
    ]


def test_a_late_stop_moves_the_difference_at_every_level() -> None:
    assert corrections([D("0.10"), D("0.06")], [D("0.25"), D("0.15")]) == [D("0.15"), D("0.09")]
    assert corrections([D("0.20"), D("0.12")], [D("0.05"), D("0.03")]) == [
        D("-0.15"),
        D("-0.09"),
    ]
    assert corrections([D("0")], [D("0")]) == [D("0")]


def test_longest_within_and_shared_books() -> None:
    def cost(d: int) -> D:
        return D(d) / 10

    assert longest_within(cost, D("5"), 100) == 50
    assert longest_within(cost, D("50"), 100) == 100
    assert longest_within(lambda d: D(1) + cost(d), D("0.5"), 100) == 0
    # two levels on one balance of 6.0: each alone fits 60 s, together only 30 s
    assert fit_shared_books(60, [9, 9], [cost, cost], {9: D("6")}) == 30
    assert fit_shared_books(60, [8, 9], [cost, cost], {8: D("6"), 9: D("6")}) == 60


def test_margins_and_hold_amounts() -> None:
    assert margins([(D("0.08"), "USD"), (D("0.04"), "USD"), (D("0.01"), "EUR")]) == [
        None,
        D("0.04"),
        None,
    ]
    assert hold_amount(D("0")) == HOLD_UNIT
    assert hold_amount(D("0.5")) == D("0.5")
