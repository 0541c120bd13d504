"""Over HTTP a call starts at the server's time: only admin keys may name the start, and
only within the configured skew; the service refuses instants the engine cannot rate.
CDRs of calls started over HTTP keep the caller the switch gave."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from support.charging_world import UK, World, build_world
from voxbill.api.app import create_app
from voxbill.bootstrap import Container
from voxbill.domain.access import Role
from voxbill.domain.errors import InvalidInput
from voxbill.domain.rate_deck import read_deck
from voxbill.services.rating.imports import PlanOptions

Api = tuple[World, TestClient, dict[str, str], dict[str, str]]


@pytest.fixture
def api(container: Container) -> Iterator[Api]:
    world = build_world(container)
    issue = container.auth.issue
    admin = {"Authorization": "Bearer " + issue(world.system, world.root, Role.ADMIN).secret}
    reseller = {
        "Authorization": "Bearer " + issue(world.system, world.reseller, Role.RESELLER).secret
    }
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield world, client, admin, reseller


def test_only_admin_keys_name_a_start_and_only_near_the_servers_clock(api: Api) -> None:
    _, client, admin, reseller = api
    body = {"caller": "+441000000001", "callee": UK}
    now = datetime.now(UTC)
    off_peak = (now - timedelta(hours=8)).isoformat()
    for headers, at, status in (
        (reseller, now.isoformat(), 422),
        (reseller, off_peak, 422),
        (admin, off_peak, 422),
        (admin, "9999-12-31T23:59:59Z", 422),
        (admin, (now + timedelta(seconds=30)).isoformat(), 200),
        (reseller, None, 200),
    ):
        sent = body if at is None else body | {"at": at}
        answer = client.post("/api/v1/calls/authorize", json=sent, headers=headers)
        assert answer.status_code == status, (at, answer.text)
    started = client.post(
        "/api/v1/calls", json=body | {"session_id": "t-1", "at": off_peak}, headers=reseller
    )
    assert started.status_code == 422


def test_the_service_refuses_a_start_the_engine_cannot_rate(container: Container) -> None:
    world = build_world(container)
    deck = "prefix,rate,time_profile,destination\n44,0.10,mon-fri 08:00-18:00,UK peak\n"
    deck += "44,0.02,,UK off-peak\n"
    container.rate_import.import_deck(
        read_deck(deck.splitlines(keepends=True)),
        operator_id=world.root,
        plan="profiled",
        source="test",
        options=PlanOptions(currency="USD"),
    )
    world.patch(world.customer, rate_plan="profiled")
    for at in (datetime(9999, 12, 31, 23, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)):
        with pytest.raises(InvalidInput):
            container.charging.authorize(world.customer_caller, UK, at)
        with pytest.raises(InvalidInput):
            container.charging.start("far", world.customer_caller, UK, at)


def test_a_cdr_of_a_call_started_over_http_keeps_its_caller(api: Api) -> None:
    world, client, admin, _ = api
    for session_id, caller in (("c-1", "+441000000001"), ("c-2", {"sip_user": "alice"})):
        body = {"session_id": session_id, "caller": caller, "callee": UK}
        assert client.post("/api/v1/calls", json=body, headers=admin).status_code == 201
        stop = client.post(f"/api/v1/calls/{session_id}/stop", json={"duration": 30}, headers=admin)
        assert stop.status_code == 200
    callers = {c.session_id: c.caller for c in world.container.charging.cdrs(world.system.path)}
    assert callers == {"c-1": "+441000000001", "c-2": "alice"}
