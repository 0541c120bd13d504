"""The pure account rules: parents by kind, balance settings, paths, and access."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from voxbill.domain import access
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import (
    Account,
    AccountStatus,
    BalanceSettings,
    Billing,
    CutoffMode,
    Limits,
    Plans,
    check_move,
    check_parent,
    in_subtree,
    operator_of,
)
from voxbill.domain.accounts import (
    AccountKind as K,
)
from voxbill.domain.errors import Forbidden, InvalidInput, NotFound


def account(id_: int, path: str, kind: K, parent: int | None = None, **balance: object) -> Account:
    return Account(
        id=id_,
        parent_id=parent,
        path=path,
        depth=path.count("/") - 2,
        kind=kind,
        name=f"#{id_}",
        status=AccountStatus.ACTIVE,
        currency="EUR",
        balance=BalanceSettings(**balance),  # type: ignore[arg-type]
        limits=Limits(),
        plans=Plans(),
        timezone="UTC",
        tax_profile=None,
    )


ROOT = account(1, "/1/", K.OPERATOR)
RESELLER = account(2, "/1/2/", K.RESELLER, 1)
SUB = account(5, "/1/2/5/", K.RESELLER, 2)
CUSTOMER = account(3, "/1/2/3/", K.CUSTOMER, 2)
USER = account(4, "/1/2/3/4/", K.USER, 3)
OTHER = account(12, "/1/12/", K.RESELLER, 1)


@pytest.mark.parametrize(
    ("kind", "parent", "ok"),
    [
        (K.OPERATOR, None, True),
        (K.RESELLER, None, False),
        (K.RESELLER, K.OPERATOR, True),
        (K.RESELLER, K.RESELLER, True),
        (K.RESELLER, K.CUSTOMER, False),
        (K.CUSTOMER, K.RESELLER, True),
        (K.CUSTOMER, K.CUSTOMER, False),
        (K.USER, K.CUSTOMER, True),
        (K.USER, K.RESELLER, False),
        (K.CARD, K.CUSTOMER, True),
        (K.CARD, K.USER, False),
        (K.VENDOR, K.OPERATOR, True),
        (K.VENDOR, K.RESELLER, False),
        (K.OPERATOR, K.OPERATOR, False),
    ],
)
def test_which_kind_may_be_a_child_of_which(kind: K, parent: K | None, ok: bool) -> None:
    if ok:
        check_parent(kind, parent)
    else:
        with pytest.raises(InvalidInput):
            check_parent(kind, parent)


def test_paths_answer_subtree_questions() -> None:
    assert in_subtree("/1/2/3/", "/1/2/")
    assert in_subtree("/1/2/", "/1/2/")
    assert not in_subtree("/1/22/", "/1/2/")  # the trailing slash matters
    assert operator_of("/7/9/11/") == 7
    assert USER.ancestor_ids == [1, 2, 3]
    assert RESELLER.contains(USER)
    assert not OTHER.contains(USER)


@pytest.mark.parametrize(
    "settings",
    [
        BalanceSettings(credit_limit=D("-1"), billing=Billing.POSTPAID),
        BalanceSettings(credit_limit=D("10")),  # prepaid with credit
        BalanceSettings(alert_balance=D("1"), block_balance=D("2")),
        BalanceSettings(cutoff_mode=CutoffMode.MUTUAL),  # on a user
    ],
)
def test_inconsistent_balance_settings_are_refused(settings: BalanceSettings) -> None:
    with pytest.raises(InvalidInput):
        settings.check(K.USER, has_parent=True)


def test_balance_settings_that_make_sense() -> None:
    BalanceSettings(Billing.POSTPAID, D("50"), D("10"), D("-50")).check(K.CUSTOMER, has_parent=True)
    BalanceSettings(cutoff_mode=CutoffMode.OUTBOUND).check(K.VENDOR, has_parent=True)
    for mode in (CutoffMode.INBOUND, CutoffMode.MUTUAL):  # a vendor sends us nothing
        with pytest.raises(InvalidInput) as refused:
            BalanceSettings(cutoff_mode=mode).check(K.VENDOR, has_parent=True)
        assert refused.value.code == "invalid_cutoff_mode"
    with pytest.raises(InvalidInput):
        BalanceSettings(shared_balance=True).check(K.OPERATOR, has_parent=False)
    with pytest.raises(InvalidInput):
        Limits(max_concurrent_calls=2, low_balance_concurrent_calls=3).check()


def test_moves_keep_a_tree() -> None:
    check_move(CUSTOMER, SUB)
    for account_, parent in ((RESELLER, SUB), (CUSTOMER, USER), (ROOT, RESELLER), (CUSTOMER, ROOT)):
        if parent is ROOT:
            check_move(account_, parent)  # a customer may sit under the operator
            continue
        with pytest.raises(InvalidInput):
            check_move(account_, parent)
    shared = replace(USER, balance=BalanceSettings(shared_balance=True))
    usd_customer = replace(CUSTOMER, id=30, path="/1/2/30/", currency="USD")
    with pytest.raises(InvalidInput):
        check_move(shared, usd_customer)


def key(account_: Account, role: Role) -> Principal:
    return Principal(account_.id, account_.path, role, key_id=1)


def test_visibility_is_the_subtree() -> None:
    reseller = key(RESELLER, Role.RESELLER)
    assert access.require_visible(reseller, USER) is USER
    for outside in (ROOT, OTHER, None):
        with pytest.raises(NotFound):
            access.require_visible(reseller, outside)


def test_self_changes_are_limited() -> None:
    me = key(CUSTOMER, Role.CUSTOMER)
    access.check_patch(me, CUSTOMER, {"name", "timezone"})
    for field in ("credit_limit", "status", "parent_id", "rate_plan", "block_balance", "billing"):
        with pytest.raises(Forbidden):
            access.check_patch(me, CUSTOMER, {field})
    access.check_patch(key(RESELLER, Role.RESELLER), CUSTOMER, {"credit_limit", "status"})
    with pytest.raises(Forbidden):
        access.check_patch(key(CUSTOMER, Role.SUPPORT), CUSTOMER, {"name"})


def test_money_rules() -> None:
    admin, reseller = key(ROOT, Role.ADMIN), key(RESELLER, Role.RESELLER)
    access.check_top_up(admin, RESELLER)
    for principal, target in ((admin, ROOT), (reseller, RESELLER), (reseller, CUSTOMER)):
        with pytest.raises(Forbidden):
            access.check_top_up(principal, target)
    access.check_transfer(reseller, RESELLER, CUSTOMER)
    access.check_transfer(admin, RESELLER, CUSTOMER)  # the operator moves money anywhere down
    with pytest.raises(Forbidden):
        access.check_transfer(reseller, RESELLER, USER)  # not a direct child
    with pytest.raises(Forbidden):
        access.check_transfer(reseller, CUSTOMER, USER)  # not its own money
    access.check_owner_money(reseller, CUSTOMER, "adjustment")
    with pytest.raises(Forbidden):
        access.check_owner_money(reseller, RESELLER, "adjustment")
    with pytest.raises(Forbidden):
        access.check_owner_money(key(RESELLER, Role.SUPPORT), CUSTOMER, "refund")


def test_roles_create_and_issue_only_below_themselves() -> None:
    access.check_create(key(RESELLER, Role.RESELLER), K.CUSTOMER)
    with pytest.raises(Forbidden):
        access.check_create(key(CUSTOMER, Role.CUSTOMER), K.RESELLER)
    with pytest.raises(Forbidden):
        access.check_create(key(RESELLER, Role.RESELLER), K.VENDOR)
    with pytest.raises(Forbidden):
        access.check_issue_key(key(RESELLER, Role.RESELLER), CUSTOMER, Role.ADMIN)
    with pytest.raises(Forbidden):
        access.check_issue_key(key(USER, Role.USER), USER, Role.CUSTOMER)
    access.check_issue_key(key(USER, Role.USER), USER, Role.USER)
