"""Partners in both directions (seed 003, issue 12 item 3), on SQLite and PostgreSQL: one
worked example per cutoff mode crossing zero both ways, the vendor legs posted whatever
the mode, the refusal ``cut_off``, the link's validation and tenancy.

``support.sip_world``'s operator (customer C under reseller R: retail UK 0.10/min;
Carrier-A buys UK at 0.03/min, Carrier-B at 0.02/min; all 1/1), plus partner P: a
customer directly under the operator (plan wholesale: UK 0.06/min, ANI +441000000077)
whose vendor side is Carrier-A (``partner_id`` = P).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.radius_peer import radclient, require_radclient, running_radius
from support.sip_world import CALLER, UK, SipWorld, build_sip_world
from support.sms_world import message
from voxbill.api.app import create_app
from voxbill.bootstrap import Container
from voxbill.domain.access import Role
from voxbill.domain.accounts import Billing, CutoffMode
from voxbill.domain.errors import Conflict, InvalidInput, NotFound, Refused, VoxbillError
from voxbill.protocols.sip.door import RedirectDoor
from voxbill.protocols.sip.message import parse_request
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.charging.service import CallerId, ChargingRefused
from voxbill.storage import prepared

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
P_ANI = "+441000000077"
PARTNER = CallerId(ani=P_ANI)
CUSTOMER = CallerId(ani=CALLER)


@dataclass
class Partners:
    world: SipWorld
    partner: int
    vendor: int

    @property
    def container(self) -> Container:
        return self.world.container

    def call(self, session_id: str, seconds: int, caller: CallerId = PARTNER, **kw: Any) -> None:
        self.container.charging.start(session_id, caller, UK, AT, **kw)
        self.container.charging.stop(session_id, seconds)

    def refused(self, session_id: str, caller: CallerId = PARTNER, **kw: Any) -> str:
        with pytest.raises(ChargingRefused) as refused:
            self.container.charging.start(session_id, caller, UK, AT, **kw)
        return refused.value.code

    def authorized(self) -> str | None:
        answer = self.container.charging.authorize(PARTNER, UK, AT)
        return None if answer.allowed else answer.reason

    def balance(self, account: int) -> D:
        return self.container.ledger.balance(account).balance

    def routes(self) -> list[str]:
        self.container.routing.forget()
        query = self.container.routing.for_account(self.world.customer, UK, AT)
        return [route.vendor for route in query.routes]

    def position(self) -> Any:
        return self.container.accounts.partner_position(self.world.system, self.partner)


def build(container: Container, mode: CutoffMode, *, postpaid: bool = True) -> Partners:
    world = build_sip_world(container)
    money: dict[str, Any] = {"billing": Billing.POSTPAID, "credit_limit": D("10")}
    partner = world.create(
        world.root,
        "customer",
        "P",
        rate_plan="wholesale",
        cutoff_mode=mode,
        **(money if postpaid else {}),
    )
    container.identifiers.add(world.system, partner, IdentifierType.ANI, P_ANI, None)
    world.patch(world.carrier_a, partner_id=partner)
    container.routing.forget()
    return Partners(world, partner, world.carrier_a)


def test_none_never_cuts_and_every_vendor_leg_is_posted(container: Container) -> None:
    p = build(container, CutoffMode.NONE)
    p.call("n1", 600)  # P postpaid at 0: its call goes through, 0.60 on credit
    assert p.balance(p.partner) == D("-0.60")
    p.call("n2", 60)  # still negative: never cut on balance
    assert p.balance(p.partner) == D("-0.66")
    # C's call terminated by P's vendor side: what we owe P is posted though mode none
    p.call("n3", 200, CUSTOMER, vendor_id=p.vendor)
    assert p.balance(p.vendor) == D("-0.10")  # 200 s x 0.03 / 60: we owe it 0.10
    # and a vendor without any link nor mode likewise
    p.call("n4", 120, CUSTOMER, vendor_id=p.world.carrier_b)
    assert p.balance(p.world.carrier_b) == D("-0.04")
    assert p.routes() == ["Carrier-B", "Carrier-A"]  # nothing cut on a negative balance
    position = p.position()
    assert (position.inbound_balance, position.outbound_balance) == (D("-0.66"), D("-0.10"))
    assert (position.net_position, position.inbound_cut_off) == (D("-0.56"), False)
    p.world.fund(p.partner, "1")  # it pays its bill; we pay the carriers
    p.world.fund(p.vendor, "0.10")
    assert (p.balance(p.partner), p.balance(p.vendor)) == (D("0.34"), D("0"))
    assert container.ledger.verify() == []


def test_inbound_cuts_at_a_spent_balance_and_a_top_up_restores(container: Container) -> None:
    p = build(container, CutoffMode.INBOUND)
    # postpaid with credit 10, but the inbound cutoff looks at the balance alone: 0 ≤ 0
    assert p.refused("i0") == "cut_off"
    assert p.authorized() == "cut_off"
    p.world.fund(p.partner, "1")
    assert p.authorized() is None
    p.call("i1", 600)  # 0.60
    p.call("i2", 400)  # 0.40: the balance reaches 0 exactly
    assert p.balance(p.partner) == D("0")
    assert p.refused("i3") == "cut_off"
    assert p.position().inbound_cut_off is True
    # its vendor side still carries our calls: inbound cuts only what it sends us
    assert p.routes() == ["Carrier-B", "Carrier-A"]
    p.call("i4", 600, CUSTOMER, vendor_id=p.vendor)  # it earns 0.30 terminating
    assert p.refused("i5") == "cut_off"  # earnings do not count for inbound
    p.world.fund(p.partner, "0.01")
    p.call("i6", 10)  # 10 s x 0.06 / 60 = 0.01: back to 0
    assert p.refused("i7") == "cut_off"
    p.world.fund(p.partner, "5")
    assert p.authorized() is None
    assert container.ledger.verify() == []


def test_outbound_stops_routing_until_we_pay_the_carrier(container: Container) -> None:
    p = build(container, CutoffMode.OUTBOUND)
    assert p.routes() == ["Carrier-B"]  # nothing paid to its vendor side: skipped
    assert p.position().outbound_cut_off is True
    # a call sent to it explicitly is refused cut_off
    assert p.refused("o0", CUSTOMER, vendor_id=p.vendor) == "cut_off"
    p.call("o1", 60)  # P's own calls to us are not cut (postpaid at 0 balance)
    admin = container.auth.issue(p.world.system, p.world.root, Role.ADMIN).secret
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        # paying a carrier: a top-up of its vendor account
        paid = client.post(
            f"/api/v1/accounts/{p.vendor}/topups",
            json={"amount": "0.15", "note": "prepayment to P"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert paid.status_code == 201, paid.text
    assert p.routes() == ["Carrier-B", "Carrier-A"]
    p.call("o2", 300, CUSTOMER, vendor_id=p.vendor)  # 300 s x 0.03 / 60 = 0.15
    assert p.balance(p.vendor) == D("0")
    assert p.routes() == ["Carrier-B"]  # spent: cut off again
    assert p.refused("o3", CUSTOMER, vendor_id=p.vendor) == "cut_off"
    p.world.fund(p.vendor, "1")
    assert p.routes() == ["Carrier-B", "Carrier-A"]
    assert container.ledger.verify() == []


def test_mutual_cuts_on_the_net_position_and_earnings_restore_it(container: Container) -> None:
    p = build(container, CutoffMode.MUTUAL)
    assert p.refused("m0") == "cut_off"  # net 0 - 0 = 0
    assert p.routes() == ["Carrier-B", "Carrier-A"]  # mutual never stops routing to it
    # P terminates our traffic: we owe it 0.10, its net position is +0.10
    p.call("m1", 200, CUSTOMER, vendor_id=p.vendor)
    assert p.position().net_position == D("0.10")
    assert p.authorized() is None
    p.call("m2", 60)  # it spends 0.06 of it: net 0.04
    assert p.position().net_position == D("0.04")
    p.call("m3", 40)  # 0.04 more: net 0
    position = p.position()
    assert (position.inbound_balance, position.outbound_balance) == (D("-0.10"), D("-0.10"))
    assert (position.net_position, position.inbound_cut_off) == (D("0"), True)
    assert p.refused("m4") == "cut_off"
    # we pay the carrier what we owe: outbound 0, net -0.10, still cut
    p.world.fund(p.vendor, "0.10")
    assert p.refused("m5") == "cut_off"
    p.world.fund(p.partner, "0.30")  # it pays its bill and more: net +0.20
    assert p.authorized() is None
    p.call("m6", 60)
    assert p.position().net_position == D("0.14")
    assert container.ledger.verify() == []


def test_sms_of_a_mutual_partner_follows_its_net_position(container: Container) -> None:
    p = build(container, CutoffMode.MUTUAL)
    with pytest.raises(Refused) as cut:
        container.messaging.send(p.world.system, message("s1", account_id=p.partner))
    assert cut.value.code == "cut_off"
    p.call("s2", 200, CUSTOMER, vendor_id=p.vendor)  # it earns 0.10
    with pytest.raises(VoxbillError) as other:  # no longer cut: refused for its missing plan
        container.messaging.send(p.world.system, message("s3", account_id=p.partner))
    assert other.value.code == "no_rate"


def test_a_link_is_validated(container: Container) -> None:
    world = build_sip_world(container)
    create, patch = world.create, world.patch
    partner = create(world.root, "customer", "P", rate_plan="wholesale")
    euro = create(world.root, "customer", "E", currency="EUR")

    def code(call: Any, *args: Any, **kw: Any) -> str:
        with pytest.raises((InvalidInput, Conflict, NotFound)) as refused:
            call(*args, **kw)
        return refused.value.code

    assert code(patch, world.customer, partner_id=partner) == "invalid_partner"  # not a vendor
    assert code(patch, world.carrier_a, partner_id=world.carrier_b) == "invalid_partner"
    assert code(patch, world.carrier_a, partner_id=world.root) == "invalid_partner"
    assert code(patch, world.carrier_a, partner_id=euro) == "partner_currency_mismatch"
    assert code(patch, world.carrier_a, partner_id=999_999) == "invalid_partner"
    patch(world.carrier_b, cutoff_mode=CutoffMode.OUTBOUND)
    assert code(patch, world.carrier_b, partner_id=partner) == "cutoff_on_vendor_side"
    assert code(patch, world.carrier_a, cutoff_mode=CutoffMode.MUTUAL) == "invalid_cutoff_mode"
    patch(world.carrier_a, partner_id=partner)
    assert code(patch, world.carrier_a, cutoff_mode=CutoffMode.OUTBOUND) == (
        "cutoff_on_vendor_side"
    )
    patch(world.carrier_b, cutoff_mode=CutoffMode.NONE)
    assert code(patch, world.carrier_b, partner_id=partner) == "partner_taken"
    # at creation too
    fields = {"kind": "vendor", "name": "V", "parent_id": world.root, "partner_id": partner}
    assert code(container.accounts.create, world.system, fields) == "partner_taken"
    # unlinked: another vendor may take it
    patch(world.carrier_a, partner_id=None)
    patch(world.carrier_b, partner_id=partner)
    assert container.accounts.visible(world.system, world.carrier_b).partner_id == partner


def test_rest_position_link_and_tenancy(container: Container) -> None:
    p = build(container, CutoffMode.MUTUAL)
    world = p.world
    admin = container.auth.issue(world.system, world.root, Role.ADMIN).secret
    reseller = container.auth.issue(world.system, world.reseller, Role.RESELLER).secret
    partner_key = container.auth.issue(world.system, p.partner, Role.CUSTOMER).secret

    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    p.call("r1", 200, CUSTOMER, vendor_id=p.vendor)
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        vendor = client.get(f"/api/v1/accounts/{p.vendor}", headers=auth(admin)).json()
        assert vendor["partner_id"] == p.partner
        url = f"/api/v1/accounts/{p.partner}/partner"
        mine = client.get(url, headers=auth(partner_key))
        assert mine.status_code == 200, mine.text
        assert mine.json() == {
            "account_id": p.partner,
            "vendor_id": p.vendor,
            "cutoff_mode": "mutual",
            "currency": "USD",
            "inbound_balance": "0.00",
            "outbound_balance": "-0.10",
            "net_position": "0.10",
            "inbound_cut_off": False,
            "outbound_cut_off": False,
        }
        # asked of the vendor: the same company's position (the operator's keys)
        same = client.get(f"/api/v1/accounts/{p.vendor}/partner", headers=auth(admin))
        assert same.json() == mine.json()
        for key, account in ((reseller, p.partner), (partner_key, p.vendor)):
            outside = client.get(f"/api/v1/accounts/{account}/partner", headers=auth(key))
            assert outside.status_code == 404
        # the link over REST: a reseller's key sees no vendor; bad links are 422 / 409
        other = client.post(
            "/api/v1/accounts",
            json={"kind": "vendor", "name": "V2", "partner_id": p.partner},
            headers=auth(admin),
        )
        assert (other.status_code, other.json()["code"]) == (409, "partner_taken")
        bad = client.patch(
            f"/api/v1/accounts/{world.carrier_b}",
            json={"partner_id": world.carrier_a},
            headers=auth(admin),
        )
        assert (bad.status_code, bad.json()["code"]) == (422, "invalid_partner")
        hidden = client.patch(
            f"/api/v1/accounts/{p.vendor}", json={"partner_id": None}, headers=auth(reseller)
        )
        assert hidden.status_code == 404
        # a refused call over REST: 403 cut_off
        p.call("r2", 200)  # spends its 0.10 of earnings (0.20): net -0.10
        start = {"session_id": "r3", "caller": P_ANI, "callee": UK}
        refused = client.post("/api/v1/calls", json=start, headers=auth(admin))
        assert refused.status_code == 403
        assert (refused.json()["code"], refused.json()["reason"]) == ("cut_off", "cut_off")
        asked = client.post(
            "/api/v1/calls/authorize", json={"caller": P_ANI, "callee": UK}, headers=auth(admin)
        )
        assert asked.json()["reason"] == "cut_off"


def _invite(container: Container, world: SipWorld, call_id: str) -> Any:
    door = RedirectDoor(container.charging, container.routing, clock=lambda: AT)
    invite = (
        f"INVITE sip:{UK}@voxbill SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-{call_id}\r\n"
        f"From: <sip:{P_ANI}@switch>;tag=1\r\nTo: <sip:{UK}@voxbill>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    return door.invite(parse_request(invite), "127.0.0.1", world.root)


def test_sip_and_radius_refuse_a_cut_off_partner_with_cut_off(container: Container) -> None:
    require_radclient()
    p = build(container, CutoffMode.INBOUND)
    answer = _invite(container, p.world, "cut-1")
    assert (answer.status, dict(answer.headers)["X-Voxbill-Reason"]) == (403, "cut_off")
    with running_radius(container) as port:
        asked = {"Calling-Station-Id": P_ANI, "Called-Station-Id": UK}
        reply = radclient(port, "auth", asked)
        assert reply is not None
        assert reply.code == "Access-Reject"
        assert reply.one("Reply-Message") == "partner cut off"
        assert reply.one("Cisco-AVPair") == "voxbill-reason=cut_off"
        p.world.fund(p.partner, "1")  # paid: both doors let it through again
        reply = radclient(port, "auth", asked)
        assert reply is not None
        assert reply.code == "Access-Accept"
    assert _invite(container, p.world, "cut-2").status == 302


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOXBILL_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-c", "from voxbill.cli.main import main; main()", "vendors", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line_links_and_unlinks(container: Container, database_url: str) -> None:
    world = build_sip_world(container)
    partner = world.create(world.root, "customer", "P", cutoff_mode=CutoffMode.MUTUAL)
    world.fund(partner, "2")
    vendor = str(world.carrier_a)
    linked = _cli(database_url, "link", "--vendor", vendor, "--partner", str(partner), "--json")
    assert linked.returncode == 0, linked.stderr
    assert json.loads(linked.stdout) == {
        "vendor_id": world.carrier_a,
        "partner_id": partner,
        "cutoff_mode": "mutual",
        "inbound_balance": "2",
        "outbound_balance": "0",
        "net_position": "2",
    }
    unlinked = _cli(database_url, "link", "--vendor", vendor, "--unlink")
    assert unlinked.returncode == 0, unlinked.stderr
    assert f"vendor {vendor}: no partner" in unlinked.stdout
    assert container.accounts.visible(world.system, world.carrier_a).partner_id is None


def test_concurrent_settles_through_one_vendor_post_every_buy_leg(container: Container) -> None:
    """Every settle locks the vendor's balance with the payers' in one ascending pass: many
    calls through one carrier at once, from its partner and another customer, never
    deadlock nor lose a debit."""
    p = build(container, CutoffMode.NONE)
    callers = [CUSTOMER, PARTNER]

    def call(i: int) -> None:
        sid = f"c{i}"
        p.container.charging.start(sid, callers[i % 2], UK, AT, interim=True, vendor_id=p.vendor)
        p.container.charging.stop(sid, 60)

    workers = 4 if container.settings.is_sqlite else 12
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(call, range(24)))
    assert p.balance(p.vendor) == D("-0.72")  # 24 x 60 s x 0.03 / 60
    assert p.balance(p.partner) == D("-0.72")  # its 12 calls x 0.06
    assert p.balance(p.world.customer) == D("8.80")  # C's 12 calls x 0.10
    assert container.ledger.verify() == []


def test_only_a_mutual_partner_pays_one_more_statement_at_start(container: Container) -> None:
    p = build(container, CutoffMode.NONE)
    p.call("e0", 200, CUSTOMER, vendor_id=p.vendor)  # it earns 0.10: mutual lets it call

    def statements(n: int) -> int:
        p.call(f"warm{n}", 1)  # caches filled, books known
        before = prepared.executions.value
        p.container.charging.start(f"count{n}", PARTNER, UK, AT, interim=True)
        counted = prepared.executions.value - before
        p.container.charging.stop(f"count{n}", 1)
        return counted

    plain = statements(1)
    p.world.patch(p.partner, cutoff_mode=CutoffMode.INBOUND)
    p.world.fund(p.partner, "1")
    assert statements(2) == plain  # its balance is read anyway: it pays
    p.world.patch(p.partner, cutoff_mode=CutoffMode.MUTUAL)
    assert statements(3) == plain + 1  # the linked vendor's balance


def test_two_vendors_linked_to_one_partner_at_once_one_wins(container: Container) -> None:
    world = build_sip_world(container)
    partner = world.create(world.root, "customer", "P")
    barrier = threading.Barrier(2)

    def link(vendor: int) -> str:
        barrier.wait()
        try:
            world.patch(vendor, partner_id=partner)
        except Conflict as exc:
            return exc.code
        return "linked"

    for _ in range(3):
        with ThreadPoolExecutor(2) as pool:
            results = sorted(pool.map(link, [world.carrier_a, world.carrier_b]))
        assert results == ["linked", "partner_taken"]
        found = container.accounts.partner_position(world.system, partner).vendor_id
        assert found in (world.carrier_a, world.carrier_b)
        world.patch(found, partner_id=None)


def test_a_none_vendor_is_debited_by_the_sweeper_and_the_late_stop_corrects_it(
    container: Container,
) -> None:
    p = build(container, CutoffMode.NONE)
    charging = container.charging
    charging.start("w1", CUSTOMER, UK, AT, interim=True, vendor_id=p.vendor)
    charging.update("w1", 60, request_number=1)
    assert charging.sweep(datetime.now(UTC) + timedelta(days=1)) == 1
    assert p.balance(p.vendor) == D("-0.03")  # swept at 60 s: we owe P 0.03
    charging.stop("w1", 150)  # the late stop: 150 s, 0.075
    assert p.balance(p.vendor) == D("-0.075")
    assert container.ledger.verify() == []
