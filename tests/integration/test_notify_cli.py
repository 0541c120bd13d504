"""``voxbill notify run-once`` through a real process: 0 when every attempt got through,
1 when one failed (it stays to be retried)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from support.ledger_accounts import open_account
from support.notify_world import http_receiver, rewire
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.notify import Channel


def _run_once(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "VOXBILL_DATABASE_URL": database_url,
        "VOXBILL_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    }
    return subprocess.run(
        [sys.executable, "-c", "from voxbill.cli.main import main; main()"]
        + ["notify", "run-once", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _topup_event(container: Container, account: int) -> None:
    with container.uow.transaction() as tx:
        tx.ledger.add_outbox_event(
            "topup.received", account, json.dumps({"amount": "5.00"}), datetime.now(UTC)
        )


def test_run_once_exits_0_when_delivered_and_1_when_an_attempt_failed(
    container: Container, database_url: str
) -> None:
    with http_receiver(lambda n: 200 if n == 1 else 500) as receiver:
        rewire(container, webhook_allow_hosts="127.0.0.1")
        account = open_account(container.db)
        container.subscriptions.create(
            Principal(account, f"/{account}/", Role.ADMIN),
            account,
            channel=Channel.WEBHOOK,
            target=receiver.url,
            events=["topup.received"],
            subtree=False,
        )
        _topup_event(container, account)
        first = _run_once(database_url)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout) | {"ok": True} == {
            "ok": True,
            "fanned_out": 1,
            "attempted": 1,
            "delivered": 1,
            "failed": 0,
            "dead": 0,
        }
        _topup_event(container, account)
        second = _run_once(database_url)
        assert second.returncode == 1
        assert json.loads(second.stdout)["failed"] == 1
        assert len(receiver.requests) == 2
