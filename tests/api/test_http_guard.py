"""The guard in front of every route: the key before the body, body limits, failed keys
per source (issue 10, findings 6, 16 and 20). Real sockets: tests/e2e/test_api_http_limits.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_tree import Tree, snapshot
from fastapi.testclient import TestClient
from test_accounts_tenancy import endpoints, sample

from voxbill.api.app import create_app
from voxbill.domain.access import Role
from voxbill.services.access.failures import InProcessAuthFailures

MALFORMED = b'{"name": '


@pytest.mark.parametrize("authorization", [None, "Bearer vbk_00000000_forged"])
def test_a_bad_key_is_401_before_any_body_is_validated(
    tree: Tree, authorization: str | None
) -> None:
    """Malformed JSON, a wrong content type or a body too large, without a valid key:
    401 on every operation (FastAPI alone validates the body first: 422)."""
    before = snapshot(tree.container)
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    for method, path in endpoints(tree):
        url, _ = sample(tree, method, path)
        for body in (MALFORMED, b"x" * (2 * 1024 * 1024)):
            response = tree.client.request(method, url, content=body, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.headers["connection"] == "close"  # the body is never read
    assert snapshot(tree.container) == before


def test_public_paths_need_no_key(tree: Tree) -> None:
    for url in ("/api/v1/health", "/api/v1/openapi.json", "/api/v1/docs"):
        assert tree.client.get(url).status_code == 200, url
    assert tree.client.get("/api/v1/nowhere").status_code == 401  # no map for strangers


def test_bodies_over_the_route_s_limit_are_413(tree: Tree) -> None:
    settings = tree.container.settings
    admin = {**tree.auth(tree.admin), "content-type": "application/json"}
    too_big = b" " * (settings.max_body_bytes + 1)
    for url in ("/api/v1/accounts", "/api/v1/calls/authorize", "/api/v1/calls/x%2Fy/stop"):
        response = tree.client.post(url, content=too_big, headers=admin)
        assert response.status_code == 413, (url, response.text)
        assert response.json()["code"] == "payload_too_large"
        assert response.headers["connection"] == "close"

    def chunks() -> Any:  # no Content-Length: counted as it streams
        for _ in range(3):
            yield b" " * (settings.max_body_bytes // 2)

    response = tree.client.post("/api/v1/accounts", content=chunks(), headers=admin)
    assert response.status_code == 413, response.text
    # a deck has its own, larger limit: the same size is a deck the route reads
    deck = b"prefix,rate,destination\n" + b"44,0.10,UK\n" * (settings.max_body_bytes // 10)
    csv = {**tree.auth(tree.admin), "content-type": "text/csv"}
    imported = tree.client.post(
        "/api/v1/rate-plans/big/deck?currency=USD", content=deck, headers=csv
    )
    assert imported.status_code != 413, imported.text


@pytest.fixture
def throttled(tree: Tree) -> tuple[TestClient, list[float]]:
    """A client whose failed keys are counted with a limit of 3 per 60 s, on a clock
    the test moves."""
    clock = [1000.0]
    tree.container.auth_failures = InProcessAuthFailures(3, 60, clock=lambda: clock[0])
    client = TestClient(create_app(tree.container), raise_server_exceptions=False)
    return client, clock


def test_failed_keys_from_one_source_are_throttled(
    tree: Tree, throttled: tuple[TestClient, list[float]]
) -> None:
    client, clock = throttled
    url = f"/api/v1/accounts/{tree.reseller_a}"
    assert client.get(url, headers=tree.auth(tree.key_a)).status_code == 200  # cached now
    fresh_key = tree.container.auth.issue(_system(tree), tree.reseller_a, Role.RESELLER).secret
    for _ in range(3):
        assert client.get(url, headers=tree.auth("vbk_00000000_guess")).status_code == 401
    assert client.get(url).status_code == 401  # no key at all: not an attempt, not counted
    refused = client.get(url, headers=tree.auth("vbk_00000000_guess"))
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_auth_failures"
    assert refused.headers["retry-after"] == "60"
    # a key the cache holds as valid still passes; any other is not even checked
    assert client.get(url, headers=tree.auth(tree.key_a)).status_code == 200
    assert client.get(url, headers=tree.auth(fresh_key)).status_code == 429
    malformed = client.post("/api/v1/accounts", content=MALFORMED, headers=tree.auth("vbk_0_x"))
    assert malformed.status_code == 429
    clock[0] += 59.5
    assert client.get(url, headers=tree.auth(fresh_key)).status_code == 429
    assert client.get(url, headers=tree.auth(fresh_key)).headers["retry-after"] == "1"
    clock[0] += 0.5  # the window has ended
    assert client.get(url, headers=tree.auth(fresh_key)).status_code == 200
    assert client.get(url, headers=tree.auth("vbk_00000000_guess")).status_code == 401


def _system(tree: Tree) -> Any:
    from voxbill.domain.access import Principal

    return Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
