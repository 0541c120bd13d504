"""Diameter Gy over a real TCP socket: python-diameter's Node as the client (CER/CEA,
DWR/DWA, DPR/DPA by its own state machine) against voxbill's server in-process, on
SQLite and PostgreSQL.

The world (``support.charging_world``): customer C, ANI +441000000001, retail UK
0.10/min + 0.01 connect, 30/6 increments; funds 10.00 unless a test says otherwise.
"""

from __future__ import annotations

from decimal import Decimal as D

from support.charging_world import UK, World, build_world
from support.diameter_client import diameter_server, gy_client
from support.sms_world import CUSTOMER_ANI, build_sms_world
from voxbill.bootstrap import Container

ANI = "441000000001"


def cost(world: World, seconds: int) -> D:
    return world.container.rating.tariff(world.root, "retail", UK).cost(seconds)


def test_a_call_in_300_s_grants_ends_with_the_exact_cost_and_retries_charge_once(
    container: Container,
) -> None:
    world = build_world(container)
    with diameter_server(container) as port, gy_client(port) as gy:
        assert gy.connection.host_identity == "ocs.voxbill.test"  # CEA accepted
        assert gy.watchdog()  # DWR → DWA
        session = gy.new_session_id()
        first = gy.initial(session, ANI, UK)
        assert (first.result_code, first.granted_seconds, first.final) == (2001, 300, False)
        assert first.validity_time is not None
        assert first.validity_time >= 300
        assert first.raw.session_id == session
        assert gy.update(session, 1, used=300).granted_seconds == 300
        again = gy.update(session, 1, used=300, retransmit=True)  # T flag: same answer
        assert (again.result_code, again.granted_seconds) == (2001, 300)
        assert gy.update(session, 2, used=300).result_code == 2001
        end = gy.terminate(session, 3, used=125)  # 725 s in all
        assert end.result_code == 2001
        assert end.cost == cost(world, 725) == D("1.2200")  # 0.01 + 726 s x 0.10 / 60
        assert gy.terminate(session, 3, used=125, retransmit=True).cost == end.cost
        assert gy.update(session, 4, used=10).result_code == 5002  # settled
        assert world.balance(world.customer) == D("10") - end.cost
        assert world.available(world.customer) == D("10") - end.cost
    assert not gy.node.connections  # DPR answered with DPA, then the server closed


def test_credit_runs_out_mid_session_final_unit_then_4012(container: Container) -> None:
    world = build_world(container, customer_funds="1")
    # 1.00 pays 0.01 + 0.10 x d / 60 up to d = 594 s (30 + 94 x 6)
    with diameter_server(container) as port, gy_client(port) as gy:
        session = gy.new_session_id()
        assert gy.initial(session, ANI, UK).granted_seconds == 300
        last = gy.update(session, 1, used=300)
        assert (last.result_code, last.granted_seconds, last.final) == (2001, 294, True)
        out = gy.update(session, 2, used=294)
        assert (out.result_code, out.granted_seconds) == (4012, None)
        end = gy.terminate(session, 3, used=0)
        assert end.cost == cost(world, 594) == D("1.0000")
        assert world.balance(world.customer) == D("0")
        refused = gy.initial(gy.new_session_id(), ANI, UK)
        assert refused.result_code == 4012


def test_unknown_subscriber_is_5030_and_an_unknown_session_5002(container: Container) -> None:
    build_world(container)
    with diameter_server(container) as port, gy_client(port) as gy:
        assert gy.initial(gy.new_session_id(), "449999999999", UK).result_code == 5030
        assert gy.update(gy.new_session_id(), 1, used=30).result_code == 5002
        sip_caller = gy.request(gy.new_session_id(), 1, 0, sip_uri="sip:alice@ims.test", callee=UK)
        assert gy.send(sip_caller).granted_seconds == 300  # user U shares C's balance


def test_an_sms_event_is_charged_once_per_session_id(container: Container) -> None:
    world = build_sms_world(container)
    with diameter_server(container, operator_id=world.root) as port, gy_client(port) as gy:
        session = gy.new_session_id()
        sent = gy.event(session, CUSTOMER_ANI, "+447700900123", units=2)
        assert (sent.result_code, sent.granted_units, sent.cost) == (2001, 2, D("0.1"))
        assert gy.event(session, CUSTOMER_ANI, "+447700900123", units=2).cost == D("0.1")
        assert world.balance(world.customer) == D("9.90")
        unknown = gy.event(gy.new_session_id(), "+15550009999", "+447700900123", units=1)
        assert unknown.result_code == 5030
