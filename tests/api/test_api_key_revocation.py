"""Revocation (issue 10, finding 13): revoking a key revokes every key minted from it;
a write with a revoked key is refused at once on every node (the key is read afresh),
while reads and the switches' calls may go on for at most ``hot_cache_seconds`` on a
node whose cache holds the key; a mint racing a revocation never leaves a survivor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from api_tree import Tree
from fastapi.testclient import TestClient
from sqlalchemy import text

from voxbill.api.app import create_app
from voxbill.bootstrap import Container, build
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import Unauthorized
from voxbill.services.access.failures import InProcessAuthFailures
from voxbill.services.access.identifiers import IdentifierType
from voxbill.settings import Settings
from voxbill.storage.access.api_keys import SqlAccessRepository

DEADLINE = 60.0


def _mint(client: TestClient, key: str, account: int, role: str) -> tuple[str, int]:
    response = client.post(
        f"/api/v1/accounts/{account}/api-keys",
        json={"role": role},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.text
    return response.json()["api_key"], response.json()["id"]


def test_revoking_a_key_revokes_the_keys_it_minted_down_the_line(tree: Tree) -> None:
    client = tree.client
    k1, k1_id = _mint(client, tree.admin, tree.reseller_a, "reseller")
    k2, _ = _mint(client, k1, tree.customer_a, "customer")  # minted by k1
    k3, _ = _mint(client, k2, tree.user_a, "user")  # minted by k2
    sibling, _ = _mint(client, tree.admin, tree.reseller_a, "support")  # by the admin key
    url = f"/api/v1/accounts/{tree.user_a}"
    for key in (k1, k2, k3, sibling):
        assert client.get(url, headers=tree.auth(key)).status_code == 200
    revoked = client.delete(f"/api/v1/api-keys/{k1_id}", headers=tree.auth(tree.admin))
    assert revoked.status_code == 200
    for key in (k1, k2, k3):
        response = client.get(url, headers=tree.auth(key))
        assert response.status_code == 401, response.text
    for key in (sibling, tree.admin, tree.key_a):  # not minted by k1: untouched
        assert client.get(url, headers=tree.auth(key)).status_code == 200
    listed = client.get(
        f"/api/v1/accounts/{tree.customer_a}/api-keys", headers=tree.auth(tree.admin)
    ).json()
    assert [k["revoked_at"] is not None for k in listed if k["role"] == "customer"] == [
        False,  # the tree's own customer key (minted by the command line's authority)
        True,
    ]


def test_keys_record_who_minted_them(tree: Tree) -> None:
    _, k1_id = _mint(tree.client, tree.admin, tree.reseller_a, "reseller")
    issued = tree.container.auth.issue_system(tree.reseller_a, Role.RESELLER)
    with tree.container.db.transaction(readonly=True) as conn:
        rows = dict(conn.execute(text("SELECT id, created_by_key_id FROM api_keys")).all())
    admin_id = tree.container.auth.authenticate(tree.admin).key_id
    assert rows[k1_id] == admin_id
    assert rows[issued.record.id] is None


@pytest.fixture
def node2(tree: Tree) -> Iterator[tuple[Container, TestClient]]:
    """A second node over the same database, whose key cache outlives the test."""
    settings = Settings(database_url=tree.container.settings.database_url, hot_cache_seconds=60)
    other = build(settings)
    other.auth_failures = InProcessAuthFailures(100_000, 60)
    try:
        with TestClient(create_app(other), raise_server_exceptions=False) as client:
            yield other, client
    finally:
        other.close()


def test_a_key_revoked_on_one_node_writes_nothing_on_another(
    tree: Tree, node2: tuple[Container, TestClient]
) -> None:
    _, client2 = node2
    node1 = tree.client
    minted, _ = _mint(node1, tree.key_a, tree.customer_a, "customer")  # minted by key_a
    url = f"/api/v1/accounts/{tree.customer_a}"
    for key in (tree.key_a, minted):  # node 2 now caches both keys as valid
        assert client2.get(url, headers=tree.auth(key)).status_code == 200
    revoked = node1.delete(f"/api/v1/api-keys/{tree.key_a_id}", headers=tree.auth(tree.admin))
    assert revoked.status_code == 200
    # the documented window: node 2 still serves reads from its cache...
    assert client2.get(url, headers=tree.auth(tree.key_a)).status_code == 200
    ani = {"type": "ani", "value": "+15551234"}
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"{url}/api-keys", {"role": "customer"}),
        ("POST", "/api/v1/accounts", {"name": "X", "kind": "user", "parent_id": tree.customer_a}),
        ("PATCH", url, {"name": "renamed"}),
        ("POST", f"{url}/identifiers", ani),
    ]
    for key in (tree.key_a, minted):
        for method, path, body in writes:
            response = client2.request(method, path, json=body, headers=tree.auth(key))
            assert response.status_code == 401, (method, path, response.text)
    # ...until it expires, or until a write there read the key afresh (as just now)
    assert client2.get(url, headers=tree.auth(tree.key_a)).status_code == 401
    assert client2.get(url, headers=tree.auth(minted)).status_code == 401


def test_a_block_on_one_node_stops_writes_on_another_at_once(
    tree: Tree, node2: tuple[Container, TestClient]
) -> None:
    _, client2 = node2
    create = {"name": "X", "kind": "customer", "parent_id": tree.reseller_a}
    url = f"/api/v1/accounts/{tree.reseller_a}"
    assert client2.get(url, headers=tree.auth(tree.key_a)).status_code == 200  # cached
    blocked = tree.client.post(f"{url}/block", headers=tree.auth(tree.admin))
    assert blocked.status_code == 200, blocked.text
    refused = client2.post("/api/v1/accounts", json=create, headers=tree.auth(tree.key_a))
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "account_not_active"


def test_the_calls_window_on_another_node_is_the_key_cache_s(
    tree: Tree, node2: tuple[Container, TestClient]
) -> None:
    """What the docs say: a switch's key revoked elsewhere still drives calls on a node
    that holds it in its cache, for at most ``hot_cache_seconds``; then 401."""
    other, client2 = node2
    tree.container.identifiers.add(
        Principal(tree.root, f"/{tree.root}/", Role.ADMIN),
        tree.customer_a,
        IdentifierType.ANI,
        "+15550002222",
        None,
    )
    body = {"caller": "+15550002222", "callee": "+441234567"}
    authorize = "/api/v1/calls/authorize"
    assert client2.post(authorize, json=body, headers=tree.auth(tree.key_a)).status_code == 200
    tree.client.delete(f"/api/v1/api-keys/{tree.key_a_id}", headers=tree.auth(tree.admin))
    assert tree.client.post(authorize, json=body, headers=tree.auth(tree.key_a)).status_code == 401
    assert client2.post(authorize, json=body, headers=tree.auth(tree.key_a)).status_code == 200
    other.auth.forget_all()  # hot_cache_seconds later
    assert client2.post(authorize, json=body, headers=tree.auth(tree.key_a)).status_code == 401


def _wait_for_lock_wait(container: Container) -> None:
    """Until a backend of the test database waits on a row lock (PostgreSQL)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        with container.db.engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("nobody waited for the lock")


def _in_thread(work: Any) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_a_mint_in_flight_when_its_key_is_revoked_is_revoked_too(tree: Tree) -> None:
    """PostgreSQL: the mint's transaction holds its key FOR SHARE; the revocation waits
    for it, and then also revokes what it minted (a later pass of the revocation)."""
    container = tree.container
    if container.db.dialect != "postgresql":
        pytest.skip("SQLite's writers are serial: no revocation runs during a mint")
    system = Principal(tree.root, f"/{tree.root}/", Role.ADMIN)
    with container.db.engine.connect() as conn:
        minting = conn.begin()
        keys = SqlAccessRepository(conn)
        assert keys.lock_live_key(tree.key_a_id)
        raced = keys.insert_key(
            account_id=tree.customer_a,
            role=Role.CUSTOMER,
            prefix="vbk_race0000",
            secret_hash="0" * 64,
            label=None,
            created_by=f"key:{tree.key_a_id}@account:{tree.reseller_a}",
            created_by_key_id=tree.key_a_id,
        )
        thread, outcome = _in_thread(lambda: container.auth.revoke(system, tree.key_a_id))
        _wait_for_lock_wait(container)
        minting.commit()
    thread.join(DEADLINE)
    assert len(outcome) == 1
    assert not isinstance(outcome[0], Exception), outcome
    with container.uow.transaction(readonly=True) as tx:
        raced_row = tx.access.key_by_id(raced.id)
    assert raced_row is not None
    assert raced_row[0].revoked_at is not None


def test_a_mint_waiting_on_a_revocation_mints_nothing(tree: Tree) -> None:
    """PostgreSQL: a mint that starts while its key is being revoked waits for the
    revocation, then finds its key revoked."""
    container = tree.container
    if container.db.dialect != "postgresql":
        pytest.skip("SQLite's writers are serial: no mint runs during a revocation")
    principal = container.auth.authenticate(tree.key_a)
    with container.db.engine.connect() as conn:
        revoking = conn.begin()
        assert SqlAccessRepository(conn).revoke_key(tree.key_a_id) == 1
        thread, outcome = _in_thread(
            lambda: container.auth.issue(principal, tree.customer_a, Role.CUSTOMER)
        )
        _wait_for_lock_wait(container)
        revoking.commit()
    thread.join(DEADLINE)
    assert len(outcome) == 1
    assert isinstance(outcome[0], Unauthorized), outcome
    with container.uow.transaction(readonly=True) as tx:
        keys = tx.access.keys_of(tree.customer_a)
    assert all(k.revoked_at is None for k in keys)  # only the tree's own, unrevoked
    assert len(keys) == 1
