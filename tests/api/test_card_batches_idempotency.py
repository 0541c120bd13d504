"""``POST /card-batches`` with an ``Idempotency-Key`` and ``DELETE /card-batches/{id}``
over REST (``docs/cards.md``), on SQLite and PostgreSQL, with tenancy (``api_tree``:
A's batches do not exist for B; support reads only) and nothing changed by a refusal."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from api_tree import Tree, snapshot

URL = "/api/v1/card-batches"


def _post(tree: Tree, key: str, body: dict[str, Any], idempotency: str | None = None) -> Any:
    headers = tree.auth(key)
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency
    return tree.client.post(URL, json=body, headers=headers)


def _body(tree: Tree, **extra: object) -> dict[str, Any]:
    return {"owner_id": tree.customer_a, "count": 2, "face_value": "5.00", **extra}


def test_the_same_key_and_body_answer_the_first_batch(tree: Tree) -> None:
    first = _post(tree, tree.admin, _body(tree), "batch-1")
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    created = first.json()
    assert created["csv"].count("\n") == 3
    before = snapshot(tree.container)
    # a retry (money in another spelling is the same request): the batch, no PINs
    again = _post(tree, tree.admin, _body(tree, face_value="5"), "batch-1")
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    replayed = again.json()
    assert replayed["csv"] is None
    assert {k: v for k, v in replayed.items() if k != "csv"} == {
        k: v for k, v in created.items() if k != "csv"
    }
    # the key with another body: refused, nothing made
    other = _post(tree, tree.admin, _body(tree, count=3), "batch-1")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")
    assert snapshot(tree.container) == before
    bad = _post(tree, tree.admin, _body(tree), "x" * 201)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
    assert snapshot(tree.container) == before
    listed = tree.client.get(URL, headers=tree.auth(tree.admin)).json()["items"]
    assert [b["id"] for b in listed] == [created["id"]]


def test_keys_are_the_calling_accounts(tree: Tree) -> None:
    """One key from two accounts: two batches (each account's keys are its own)."""
    mine = _post(tree, tree.key_a, _body(tree, owner_id=tree.reseller_a), "shared")
    assert mine.status_code == 201, mine.text
    theirs = _post(tree, tree.key_b, _body(tree, owner_id=tree.reseller_b), "shared")
    assert theirs.status_code == 201, theirs.text
    assert mine.json()["id"] != theirs.json()["id"]
    # B's repeat of A's key with A's body is B's own request: A's owner is not B's (404)
    stranger = _post(tree, tree.key_b, _body(tree, owner_id=tree.reseller_a), "other")
    assert stranger.status_code == 404
    # support writes nothing, with a key or without: not even the replay of its account's
    # key (A's support key shares A's keys; who asks is checked first, as for money)
    denied = _post(tree, tree.support_a, _body(tree), "support")
    assert denied.status_code == 403
    replay = _post(tree, tree.support_a, _body(tree, owner_id=tree.reseller_a), "shared")
    assert replay.status_code == 403
    assert (
        _post(tree, tree.key_a, _body(tree, owner_id=tree.reseller_a), "shared").json()["id"]
        == mine.json()["id"]
    )


@pytest.mark.postgres
def test_two_posts_with_one_key_at_once_make_one_batch(tree: Tree) -> None:
    if tree.container.uow.dialect != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL")
    start = threading.Barrier(2, timeout=30)
    answers: list[Any] = []

    def post() -> None:
        start.wait()
        answers.append(_post(tree, tree.admin, _body(tree, count=3), "race"))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sorted(a.json()["csv"] is None for a in answers) == [False, True]
    listed = tree.client.get(URL, headers=tree.auth(tree.admin)).json()["items"]
    assert len(listed) == 1


def test_an_unused_batch_is_deleted(tree: Tree) -> None:
    client, admin = tree.client, tree.auth(tree.admin)
    before = snapshot(tree.container)
    batch = _post(tree, tree.admin, _body(tree)).json()["id"]
    gone = client.delete(f"{URL}/{batch}", headers=admin)
    assert gone.status_code == 204, gone.text
    assert client.get(f"{URL}/{batch}", headers=admin).status_code == 404
    assert client.delete(f"{URL}/{batch}", headers=admin).status_code == 404
    after = snapshot(tree.container)
    # what is left of the batch: nothing (the audit of API keys' use aside)
    for table in ("card_batches", "cards", "caller_identifiers", "ledger_books", "accounts"):
        assert after[table] == before[table], table
    assert tree.container.ledger.verify() == []


def test_a_used_batch_and_strangers_are_refused(tree: Tree) -> None:
    client = tree.client
    admin = tree.auth(tree.admin)
    batch = _post(tree, tree.admin, _body(tree)).json()["id"]
    used = _post(tree, tree.admin, _body(tree)).json()["id"]
    assert client.post(f"{URL}/{used}/activate", headers=admin).status_code == 200
    client.post(f"{URL}/{used}/deactivate", headers=admin)
    before = snapshot(tree.container)
    refused = client.delete(f"{URL}/{used}", headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (409, "batch_in_use")
    # B: A's batch does not exist; support: read only; A: the operator funds this batch;
    # a customer's key manages no operator-funded batch; a user key (below the owner)
    # does not see it
    for key, status in (
        (tree.key_b, 404),
        (tree.support_a, 403),
        (tree.support_root, 403),
        (tree.key_a, 403),
        (tree.key_customer_a, 403),
        (tree.key_user_a, 404),
    ):
        answer = client.delete(f"{URL}/{batch}", headers=tree.auth(key))
        assert answer.status_code == status, (key, answer.text)
    assert client.delete(f"{URL}/0", headers=admin).status_code == 422
    assert client.delete(f"{URL}/999999", headers=admin).status_code == 404
    after = snapshot(tree.container)
    for table in ("card_batches", "cards", "caller_identifiers", "ledger_books", "accounts"):
        assert after[table] == before[table], table
    # A's own batch, paid from its balance: A deletes it
    own = _post(tree, tree.key_a, _body(tree, owner_id=tree.reseller_a)).json()["id"]
    assert client.delete(f"{URL}/{own}", headers=tree.auth(tree.key_a)).status_code == 204
    assert tree.container.ledger.verify() == []
