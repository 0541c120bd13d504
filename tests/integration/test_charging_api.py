"""Calls and CDRs over HTTP (the real app, in process): statuses, reasons, tenancy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.charging_world import UK, World, build_world
from voxbill.api.app import create_app
from voxbill.bootstrap import Container
from voxbill.domain.access import Role


@pytest.fixture
def api(container: Container) -> Iterator[tuple[World, TestClient, dict[str, str]]]:
    world = build_world(container)
    admin = container.auth.issue(world.system, world.root, Role.ADMIN).secret
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield world, client, {"Authorization": f"Bearer {admin}"}


def _post(client: TestClient, headers: dict[str, str], url: str, body: Any) -> Any:
    return client.post(f"/api/v1{url}", json=body, headers=headers)


def test_calls_over_http(api: tuple[World, TestClient, dict[str, str]]) -> None:
    world, client, admin = api
    ok = _post(client, admin, "/calls/authorize", {"caller": "+441000000001", "callee": UK})
    assert ok.status_code == 200
    assert [(lv["account_id"], lv["kind"], lv["balance"]) for lv in ok.json()["levels"]] == [
        (world.customer, "customer", "10"),
        (world.reseller, "reseller", "100"),
    ]
    assert ok.json() | {"account_id": 0, "levels": []} == {
        "levels": [],
        "allowed": True,
        "reason": None,
        "account_id": 0,
        "max_duration": 5994,
        "rate": "0.1",
        "currency": "USD",
        "balance": "10",
        "prefix": "44",
        "destination": "UK",
    }
    unknown = _post(
        client, admin, "/calls/authorize", {"caller": {"sip_user": "bob"}, "callee": UK}
    )
    assert (unknown.status_code, unknown.json()["reason"]) == (200, "unknown_caller")

    body = {"session_id": "h1", "caller": {"sip_user": "alice"}, "callee": UK}
    started = _post(client, admin, "/calls", body | {"interim": True})
    assert started.status_code == 201
    assert (started.json()["granted_seconds"], started.json()["final"]) == (300, False)
    again = _post(client, admin, "/calls", body | {"interim": True})
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    updated = _post(client, admin, "/calls/h1/update", {"duration": 250, "request_number": 1})
    assert updated.json()["granted_seconds"] == 300
    stopped = _post(client, admin, "/calls/h1/stop", {"duration": 40})
    assert stopped.status_code == 200
    assert {k: stopped.json()[k] for k in ("cost", "balance", "billed_seconds")} == {
        "cost": "0.08",
        "balance": "9.92",
        "billed_seconds": 42,
    }
    assert _post(client, admin, "/calls/h1/stop", {"duration": 41}).json()["cost"] == "0.08"

    page = client.get("/api/v1/cdrs", params={"number": "44"}, headers=admin).json()
    assert [(c["session_id"], c["cost"]) for c in page["items"]] == [("h1", "0.08")]
    assert [(leg["plan"], leg["cost"], leg["margin"]) for leg in page["items"][0]["legs"]] == [
        ("retail", "0.08", None),
        ("wholesale", "0.04", "0.04"),
    ]
    csv = client.get("/api/v1/cdrs.csv", headers=admin)
    assert csv.headers["content-type"].startswith("text/csv")
    header, row = csv.text.strip().splitlines()
    assert header.startswith("id,session_id,account_id,caller,callee,started_at")
    assert ",0.1,0.08,USD,44,UK,false,stop," in row
    empty = client.get("/api/v1/cdrs", params={"from": "2027-01-01T00:00:00Z"}, headers=admin)
    assert empty.json()["items"] == []


def test_refused_starts_are_problems_with_a_reason(
    api: tuple[World, TestClient, dict[str, str]],
) -> None:
    world, client, admin = api
    world.patch(world.card, max_concurrent_calls=0)

    def start(n: int, caller: Any, callee: str = UK) -> Any:
        body = {"session_id": f"r{n}", "caller": caller, "callee": callee}
        return _post(client, admin, "/calls", body)

    cases = [
        (start(1, {"sip_user": "nobody"}), 403, "unknown_caller"),
        (start(2, "+441000000001", "+81312345678"), 404, "no_rate"),
        (start(3, "+441000000001", "12ab"), 422, "invalid_number"),
        (start(4, {"card": "12345678", "pin": "4321"}), 429, "concurrency_limit"),
    ]
    world.patch(world.customer, block_balance="10")
    cases.append((start(5, "+441000000001"), 402, "insufficient_funds"))
    world.patch(world.customer, block_balance="0")
    world.patch(world.customer, status="blocked")
    cases.append((start(6, "+441000000001"), 403, "blocked"))
    for response, status, reason in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (response.json()["code"], response.json()["reason"]) == (reason, reason)
    for bad in (
        {"session_id": "x", "caller": 5, "callee": UK},
        {"session_id": "", "caller": "+44", "callee": UK},
        {"session_id": "x", "caller": {"nope": 1}, "callee": UK},
        {"session_id": "x" * 201, "caller": "+44", "callee": UK},
    ):
        assert _post(client, admin, "/calls", bad).status_code == 422
    assert _post(client, admin, "/calls/none/stop", {"duration": -1}).status_code == 422
    assert _post(client, admin, "/calls/none/stop", {"duration": 1}).status_code == 404
    assert client.get("/api/v1/cdrs", params={"number": "x"}, headers=admin).status_code == 422


def test_keys_drive_only_their_subtree(api: tuple[World, TestClient, dict[str, str]]) -> None:
    world, client, admin = api
    container = world.container
    other = world.create(world.root, "reseller", "Other")

    def key(account: int, role: Role) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {container.auth.issue(world.system, account, role).secret}"
        }

    other_key = key(other, Role.RESELLER)
    own_key = key(world.reseller, Role.RESELLER)
    support = key(world.root, Role.SUPPORT)
    body = {"session_id": "t1", "caller": "+441000000001", "callee": UK}
    # another tenant's caller is unknown to this key, exactly as an unknown number
    outsider = _post(client, other_key, "/calls", body)
    unknown = _post(client, other_key, "/calls", body | {"caller": "+449999999999"})
    assert (outsider.status_code, outsider.json()) == (403, unknown.json())
    assert outsider.json()["reason"] == "unknown_caller"
    assert _post(client, support, "/calls", body).status_code == 403
    assert _post(client, own_key, "/calls", body).status_code == 201
    assert _post(client, other_key, "/calls/t1/stop", {"duration": 5}).status_code == 404
    assert _post(client, own_key, "/calls/t1/stop", {"duration": 5}).status_code == 200
    assert client.get("/api/v1/cdrs", headers=other_key).json()["items"] == []
    assert len(client.get("/api/v1/cdrs", headers=support).json()["items"]) == 1
    outside = client.get("/api/v1/cdrs", params={"account_id": world.customer}, headers=other_key)
    assert outside.status_code == 404
