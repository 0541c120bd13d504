"""``voxbill serve`` delivers notifications by itself: a reseller subscribes to its
customers' events over HTTP, a debit crosses a customer's alert level, and the server's
worker thread sends one signed webhook to a real receiver and one email to a real SMTP
server (SQLite; the database-level guarantees are in tests/integration)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from support.notify_world import http_receiver, smtp_server
from support.voxbill_process import cli_runner, sqlite_env, start_server, stop_server
from voxbill.domain.notify import verify_signature

DEADLINE_SECONDS = 60.0


def _wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll until ``condition()``; the deadline only bounds a broken run."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE_SECONDS} s"
        time.sleep(0.05)


def test_serve_delivers_a_low_balance_alert_by_webhook_and_email(tmp_path: Path) -> None:
    with http_receiver() as receiver, smtp_server() as mailbox:
        env = sqlite_env(tmp_path)
        env |= {
            "VOXBILL_NOTIFY_INTERVAL_SECONDS": "0.1",
            "VOXBILL_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
            "VOXBILL_SMTP_URL": mailbox.url,
            "VOXBILL_MAIL_FROM": "alerts@acme.example",
        }
        run = cli_runner(env, tmp_path)
        init = run("init", "--operator", "Acme", "--currency", "EUR", "--json", check=True)
        key = json.loads(init.stdout)["api_key"]
        base_url, process = start_server(env, tmp_path)
        try:
            api = httpx.Client(
                base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {key}"}
            )
            reseller = api.post("/accounts", json={"name": "R", "kind": "reseller"}).json()["id"]
            customer = api.post(
                "/accounts",
                json={"name": "C", "kind": "customer", "parent_id": reseller, "alert_balance": "5"},
            ).json()["id"]
            hook = api.post(
                f"/accounts/{reseller}/subscriptions",
                json={
                    "channel": "webhook",
                    "target": receiver.url,
                    "events": ["balance.low"],
                    "subtree": True,
                },
            )
            assert hook.status_code == 201, hook.text
            mail = api.post(
                f"/accounts/{customer}/subscriptions",
                json={"channel": "email", "target": "c@example.com", "events": ["balance.low"]},
            )
            assert mail.status_code == 201, mail.text
            top = api.post(
                f"/accounts/{customer}/topups",
                json={"amount": "10"},
                headers={"Idempotency-Key": "t1"},
            )
            assert top.status_code == 201, top.text
            debit = api.post(
                f"/accounts/{customer}/adjustments",
                json={"amount": "-6", "reason": "usage"},
                headers={"Idempotency-Key": "a1"},
            )
            assert debit.status_code == 201, debit.text

            _wait_for(lambda: receiver.requests and mailbox.messages, "delivery")
            listed = api.get(f"/accounts/{reseller}/notifications").json()["items"]
            _wait_for(
                lambda: (
                    api.get(f"/accounts/{customer}/notifications").json()["items"][0]["status"]
                    == "delivered"
                ),
                "recorded delivery",
            )
        finally:
            stop_server(process)
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert (body["type"], body["account_id"]) == ("balance.low", customer)
    secret = hook.json()["secret"]
    assert verify_signature(
        secret, request.headers["voxbill-signature"], request.body, int(time.time())
    )
    (message,) = mailbox.messages
    assert message["To"] == "c@example.com"
    assert message["From"] == "alerts@acme.example"
    assert [i["type"] for i in listed] == ["balance.low"]
