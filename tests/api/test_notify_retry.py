"""Retrying a dead notification: ``POST /api/v1/notifications/{id}/retry`` (tenancy,
who may, 409 when not dead or its subscription deleted) and ``voxbill notify retry ID``
through a real process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from api_tree import Tree, snapshot

from support.notify_world import FakeClock, http_receiver, rewire


def _dead(tree: Tree, url: str) -> tuple[int, int]:
    """(delivery id, subscription id) of a webhook delivery dead after one attempt."""
    made = tree.client.post(
        f"/api/v1/accounts/{tree.customer_a}/subscriptions",
        json={"channel": "webhook", "target": url, "events": ["topup.received"]},
        headers=tree.auth(tree.key_a),
    )
    assert made.status_code == 201, made.text
    with tree.container.uow.transaction() as tx:
        tx.ledger.add_outbox_event(
            "topup.received", tree.customer_a, json.dumps({"amount": "5"}), datetime.now(UTC)
        )
    assert tree.container.notify.run_once().dead == 1
    items = tree.client.get(
        f"/api/v1/accounts/{tree.customer_a}/notifications", headers=tree.auth(tree.key_a)
    ).json()["items"]
    return items[0]["id"], made.json()["id"]


def test_a_dead_notification_is_retried_once_more(tree: Tree) -> None:
    clock = FakeClock()
    with http_receiver(lambda n: 500 if n in (1, 2) else 200) as receiver:
        rewire(tree.container, clock, webhook_allow_hosts="127.0.0.1", notify_max_attempts=1)
        dead, _ = _dead(tree, receiver.url)
        path = f"/api/v1/notifications/{dead}/retry"
        before = snapshot(tree.container)
        assert tree.client.post(path, headers=tree.auth(tree.key_b)).status_code == 404
        assert tree.client.post(path, headers=tree.auth(tree.support_a)).status_code == 403
        assert snapshot(tree.container) == before

        retried = tree.client.post(path, headers=tree.auth(tree.key_a))
        assert retried.status_code == 200, retried.text
        assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 1)
        again = tree.client.post(path, headers=tree.auth(tree.key_a))
        assert (again.status_code, again.json()["code"]) == (409, "conflict")
        clock.advance(minutes=1)  # the worker's clock: past the retry's "now"
        summary = tree.container.notify.run_once()
        assert (summary.attempted, summary.dead) == (1, 1)  # one more attempt: dead again
        assert tree.client.post(path, headers=tree.auth(tree.key_a)).status_code == 200
        clock.advance(minutes=1)
        assert tree.container.notify.run_once().delivered == 1
        assert len(receiver.requests) == 3
        detail = tree.client.get(f"/api/v1/notifications/{dead}", headers=tree.auth(tree.key_a))
        assert [a["ok"] for a in detail.json()["attempt_log"]] == [False, False, True]


def test_a_deleted_subscriptions_dead_letter_is_not_retried(tree: Tree) -> None:
    with http_receiver(lambda n: 500) as receiver:
        rewire(tree.container, webhook_allow_hosts="127.0.0.1", notify_max_attempts=1)
        dead, subscription = _dead(tree, receiver.url)
        gone = tree.client.delete(
            f"/api/v1/subscriptions/{subscription}", headers=tree.auth(tree.key_a)
        )
        assert gone.status_code == 204
        refused = tree.client.post(
            f"/api/v1/notifications/{dead}/retry", headers=tree.auth(tree.key_a)
        )
        assert refused.status_code == 409
        assert "subscription was deleted" in refused.json()["detail"]


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOXBILL_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-c", "from voxbill.cli.main import main; main()", "notify", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_voxbill_notify_retry(tree: Tree, database_url: str) -> None:
    with http_receiver(lambda n: 500) as receiver:
        rewire(tree.container, webhook_allow_hosts="127.0.0.1", notify_max_attempts=1)
        dead, _ = _dead(tree, receiver.url)
    done = _cli(database_url, "retry", str(dead), "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["id"], answer["status"], answer["attempts"]) == (dead, "pending", 1)
    refused = _cli(database_url, "retry", str(dead))
    assert refused.returncode == 1
    assert "only a dead notification" in refused.stderr
    assert _cli(database_url, "retry", "999999").returncode != 0
