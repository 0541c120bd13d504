"""POST /api/v1/sms over HTTP (the app in process): statuses, problem+json, replay headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from support.sms_world import CUSTOMER_ANI, SmsWorld, build_sms_world
from voxbill.api.app import create_app
from voxbill.bootstrap import Container
from voxbill.domain.access import Role
from voxbill.services.messaging.rate_limit import InProcessRateLimiter


@pytest.fixture
def api(container: Container) -> Iterator[tuple[TestClient, SmsWorld, str]]:
    """A client over a node whose limiter's clock stands still; the customer's key."""
    world = build_sms_world(container)
    node = Container(
        settings=container.settings,
        db=container.db,
        rate_limiter=InProcessRateLimiter(clock=lambda: 10**12),
    )
    key = container.auth.issue(world.admin, world.customer, Role.CUSTOMER).secret
    with TestClient(create_app(node), raise_server_exceptions=False) as client:
        yield client, world, key


def body(message_id: str, **fields: object) -> dict[str, object]:
    return {
        "message_id": message_id,
        "sender": CUSTOMER_ANI,
        "recipient": "+447700900123",
        "text": "x" * 161,
    } | fields


def test_sms_statuses(api: tuple[TestClient, SmsWorld, str]) -> None:
    client, world, key = api
    auth = {"Authorization": f"Bearer {key}"}

    first = client.post("/api/v1/sms", json=body("m1"), headers=auth)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert {k: answer[k] for k in ("segments", "encoding", "cost", "currency", "balance")} == {
        "segments": 2,
        "encoding": "gsm7",
        "cost": "0.10",
        "currency": "USD",
        "balance": "9.90",
    }
    assert (answer["account_id"], answer["message_id"]) == (world.customer, "m1")
    assert [c["cost"] for c in answer["charges"]] == ["0.10", "0.06"]

    again = client.post("/api/v1/sms", json=body("m1"), headers=auth)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert again.json() == answer
    conflict = client.post("/api/v1/sms", json=body("m1", text="other"), headers=auth)
    assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_conflict")

    def refused(status: int, code: str, **fields: object) -> None:
        response = client.post("/api/v1/sms", json=body("r", **fields), headers=auth)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code

    refused(403, "unknown_sender", sender="+15559999999")
    refused(404, "no_rate", recipient="+81312345678")
    refused(422, "invalid_number", recipient="hello")
    refused(422, "invalid_input", mcc_mnc="1")
    refused(422, "invalid_input", text=None)

    poor = world.customer_account("Poor")
    refused(404, "not_found", account_id=poor)  # not in the customer key's subtree
    admin_key = world.container.auth.issue(world.admin, world.root, Role.ADMIN).secret
    admin = {"Authorization": f"Bearer {admin_key}"}
    broke = client.post("/api/v1/sms", json=body("b", account_id=poor), headers=admin)
    assert (broke.status_code, broke.json()["code"]) == (402, "insufficient_funds")

    world.container.accounts.patch(world.admin, world.customer, {"message_rate_limit": 1})
    assert client.post("/api/v1/sms", json=body("l1"), headers=auth).status_code == 201
    limited = client.post("/api/v1/sms", json=body("l2"), headers=auth)
    assert (limited.status_code, limited.json()["code"]) == (429, "rate_limited")
    assert limited.headers["Retry-After"] == "1"

    listed = client.get("/api/v1/messages", headers=auth).json()
    assert [m["message_id"] for m in listed["items"]] == ["l1", "m1"]
    page = client.get("/api/v1/messages?limit=1", headers=auth).json()
    assert page["next_before_id"] == listed["items"][0]["id"]
    assert world.container.ledger.verify() == []
