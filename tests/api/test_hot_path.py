"""The switches' endpoints (calls, SMS) take a leaner path through the HTTP layer: async,
one threadpool hop, the API key checked on the event loop while the service's cache
holds it (by the guard, before the body is read), the response written from the built
model. None of that may change what a client sees."""

from __future__ import annotations

from typing import Any

import pytest
from api_tree import Tree

from voxbill.api import guard
from voxbill.api.call_schemas import AuthorizationRead

CALLS = "/api/v1/calls"


def _authorize(tree: Tree) -> dict[str, Any]:
    return {"caller": {"account_id": tree.customer_a}, "callee": "+441234567"}


HOT = [
    ("/api/v1/calls/authorize", {"caller": "x"}),
    (CALLS, {"session_id": "s"}),
    (f"{CALLS}/s-1/update", {"duration": -1}),
    (f"{CALLS}/s-1/stop", {}),
    ("/api/v1/sms", {"text": 1}),
]


@pytest.mark.parametrize(("path", "body"), HOT)
def test_a_bad_key_is_401_before_a_bad_body_is_422(tree: Tree, path: str, body: Any) -> None:
    for headers in ({}, tree.auth("vbk_00000000_forged")):
        response = tree.client.post(path, json=body, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthorized"
    response = tree.client.post(path, json=body, headers=tree.auth(tree.key_a))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_input"


def test_a_revoked_key_stops_at_once_on_the_calls_endpoints(tree: Tree) -> None:
    url = f"{CALLS}/authorize"
    for _ in range(3):  # checked from the cache on the event loop
        ok = tree.client.post(url, json=_authorize(tree), headers=tree.auth(tree.key_a))
        assert ok.status_code == 200, ok.text
    revoked = tree.client.delete(f"/api/v1/api-keys/{tree.key_a_id}", headers=tree.auth(tree.admin))
    assert revoked.status_code == 200
    after = tree.client.post(url, json=_authorize(tree), headers=tree.auth(tree.key_a))
    assert after.status_code == 401
    assert after.json()["code"] == "unauthorized"


def test_the_answer_is_the_response_model_as_json(tree: Tree) -> None:
    response = tree.client.post(
        f"{CALLS}/authorize", json=_authorize(tree), headers=tree.auth(tree.key_a)
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    model = AuthorizationRead.model_validate_json(response.content)
    assert response.content == model.model_dump_json().encode()
    assert set(response.json()) == set(AuthorizationRead.model_fields)


def test_nul_in_a_hot_path_or_query_is_refused(tree: Tree) -> None:
    headers = tree.auth(tree.key_a)
    for url in (f"{CALLS}/a%00b/stop", f"{CALLS}/authorize?x=%00"):
        response = tree.client.post(url, json={"duration": 1}, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["code"] == "invalid_input"
    # an encoded percent sign is not a NUL
    fine = tree.client.post(f"{CALLS}/authorize?x=%2500", json=_authorize(tree), headers=headers)
    assert fine.status_code == 200, fine.text


def test_a_cached_key_is_checked_on_the_event_loop(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard reads a key the cache holds without a thread hop; a key it does not
    hold (or a bad one) is read in the threadpool."""
    hops: list[str] = []
    real = guard.to_thread.run_sync

    async def counted(work: Any, *args: Any) -> Any:
        hops.append(getattr(work, "__name__", "?"))
        return await real(work, *args)

    monkeypatch.setattr(guard.to_thread, "run_sync", counted)
    url = f"{CALLS}/authorize"
    first = tree.client.post(url, json=_authorize(tree), headers=tree.auth(tree.key_a))
    assert first.status_code == 200, first.text
    assert "_check" in hops  # not cached yet: read from the database in a thread
    hops.clear()
    again = tree.client.post(url, json=_authorize(tree), headers=tree.auth(tree.key_a))
    assert again.status_code == 200
    assert "_check" not in hops


def _key_reads(tree: Tree, send: Any) -> int:
    """Statements that read API keys while ``send()`` runs."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    engine = tree.container.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        send()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sum("FROM api_keys" in statement for statement in seen)


def test_the_calls_read_the_key_from_the_cache_other_writes_afresh(tree: Tree) -> None:
    """No key query on the switches' writes while the key is cached (no extra round
    trip on the hot path); one on every other write, whatever the cache holds."""
    headers = tree.auth(tree.key_a)
    url = f"/api/v1/accounts/{tree.customer_a}"
    assert tree.client.get(url, headers=headers).status_code == 200  # the key now cached
    start = {"session_id": "hot-1", "caller": {"account_id": tree.customer_a}, "callee": "+4412"}

    def calls() -> None:
        tree.client.post(f"{CALLS}/authorize", json=_authorize(tree), headers=headers)
        tree.client.post(CALLS, json=start, headers=headers)
        tree.client.post(f"{CALLS}/hot-1/stop", json={"duration": 1}, headers=headers)

    assert _key_reads(tree, calls) == 0
    assert _key_reads(tree, lambda: tree.client.get(url, headers=headers)) == 0
    patch = lambda: tree.client.patch(url, json={"name": "Renamed"}, headers=headers)  # noqa: E731
    assert _key_reads(tree, patch) == 1
