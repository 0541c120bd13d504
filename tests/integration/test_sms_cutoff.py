"""SMS follows the partner cutoff rule of calls: a partner cut off inbound or mutual
(its balance at or below zero) sends nothing; outbound cutoff does not stop it.

C2 is a customer of R with no SMS plan of its own (only R's wholesale price is charged),
so what refuses it is the cutoff, not a floor.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from support.sms_world import SmsWorld, build_sms_world, message
from voxbill.bootstrap import Container
from voxbill.domain.accounts import CutoffMode
from voxbill.domain.errors import Refused


@pytest.fixture
def world(container: Container) -> SmsWorld:
    return build_sms_world(container)


@pytest.mark.parametrize("mode", [CutoffMode.INBOUND, CutoffMode.MUTUAL])
def test_a_partner_cut_off_with_no_money_sends_nothing(world: SmsWorld, mode: CutoffMode) -> None:
    partner = world.customer_account("C2", sms_plan=None, cutoff_mode=mode)
    send = world.container.messaging.send
    with pytest.raises(Refused) as cut:  # balance 0: cut off
        send(world.admin, message("m1", account_id=partner))
    assert cut.value.code == "cut_off"
    assert "cut off" in cut.value.message
    assert world.balance(world.reseller) == D("100.00")
    world.top_up(partner, "1.00")
    sent = send(world.admin, message("m2", account_id=partner))
    assert [c.account_id for c in sent.charges] == [world.reseller]


def test_outbound_cutoff_does_not_stop_messages(world: SmsWorld) -> None:
    partner = world.customer_account("C3", sms_plan=None, cutoff_mode=CutoffMode.OUTBOUND)
    sent = world.container.messaging.send(world.admin, message("m3", account_id=partner))
    assert sent.cost == D("0.03")
