"""``voxbill ledger verify`` through a real process: 0 when sound, 1 on a tampered balance."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal as D

from sqlalchemy import text

from support.ledger_accounts import open_account
from voxbill.bootstrap import Container

OPERATOR = "admin:test"
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def _verify(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOXBILL_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-c", "from voxbill.cli.main import main; main()", "ledger", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_verify_passes_then_catches_a_tampered_balance(container: Container, database_url: str):
    ledger = container.ledger
    alice = open_account(container.db, block_balance="0")
    bob = open_account(container.db)
    ledger.top_up(alice, D("10"), actor=OPERATOR)
    ledger.transfer(alice, bob, D("2.5"), actor=OPERATOR)
    ledger.place_hold(bob, D("1"), reference="call", expires_at=FAR_FUTURE)

    ok = _verify(database_url)
    assert ok.returncode == 0, ok.stderr
    assert "ledger ok: " in ok.stdout
    assert "1 open holds" in ok.stdout

    with container.db.transaction() as conn:  # someone edits a balance behind the ledger
        conn.execute(
            text("UPDATE ledger_books SET balance = balance + :d, reserved = 0 WHERE key = :k"),
            {
                "d": 1 if container.db.dialect == "sqlite" else D("0.00000001"),
                "k": f"account:{bob}",
            },
        )
    assert len(ledger.verify()) == 2

    bad = _verify(database_url)
    assert bad.returncode == 1
    lines = bad.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("balance book ")
    assert lines[0].endswith(f"(account:{bob}): expected 2.5, found 2.50000001")
    assert lines[1].endswith(f"(account:{bob}): expected 1, found 0")
    assert "2 difference(s)" in bad.stderr
