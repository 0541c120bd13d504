"""A session id names one call: a start that reuses it for another call is refused
(409 session_conflict), never replayed, and another tenant's session reads as unknown."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from support.charging_world import AT, FRANCE, UK, build_world
from voxbill.api.app import create_app
from voxbill.bootstrap import Container
from voxbill.domain.access import Role
from voxbill.domain.errors import SessionConflict
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.charging.service import CallerId


def test_another_tenants_call_cannot_replay_a_grant(container: Container) -> None:
    world = build_world(container)
    other = world.create(world.root, "reseller", "B", rate_plan="wholesale")
    broke = world.create(other, "customer", "CB", rate_plan="retail")
    container.identifiers.add(world.system, broke, IdentifierType.ANI, "+441000000099", None)
    world.fund(other, "100")
    world.fund(broke, "0.01")
    keys = {
        who: {
            "Authorization": "Bearer "
            + container.auth.issue(world.system, who, Role.RESELLER).secret
        }
        for who in (world.reseller, other)
    }
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        first = {"session_id": "abc-1", "caller": "+441000000001", "callee": UK}
        assert (
            client.post("/api/v1/calls", json=first, headers=keys[world.reseller]).status_code
            == 201
        )
        reused = first | {"caller": "+441000000099", "callee": FRANCE}
        refused = client.post("/api/v1/calls", json=reused, headers=keys[other])
        assert (refused.status_code, refused.json()["code"]) == (409, "session_conflict")
        assert "granted_seconds" not in refused.json()
        foreign = client.post(
            "/api/v1/calls/abc-1/stop", json={"duration": 30}, headers=keys[other]
        )
        unknown = client.post("/api/v1/calls/zzz/stop", json={"duration": 30}, headers=keys[other])
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json()["detail"] == unknown.json()["detail"] == "call session not found"
        retry = client.post("/api/v1/calls", json=first, headers=keys[world.reseller])
        assert (retry.status_code, retry.json()["replayed"]) == (200, True)
    assert container.ledger.balance(broke).reserved == Decimal(0)


@pytest.mark.parametrize(
    "change",
    [{"callee": FRANCE}, {"interim": True}, {"caller": CallerId(sip_user="alice")}],
)
def test_a_start_differing_in_any_key_is_a_conflict(
    container: Container, change: dict[str, object]
) -> None:
    world = build_world(container)
    charging = container.charging
    first: dict[str, object] = {"caller": world.card_caller, "callee": UK, "interim": False}
    charging.start("s-1", first["caller"], UK, AT)  # type: ignore[arg-type]
    asked = first | change
    with pytest.raises(SessionConflict):
        charging.start(
            "s-1",
            asked["caller"],  # type: ignore[arg-type]
            asked["callee"],  # type: ignore[arg-type]
            AT,
            interim=bool(asked["interim"]),
        )
    assert charging.start("s-1", world.card_caller, UK, AT).replayed
