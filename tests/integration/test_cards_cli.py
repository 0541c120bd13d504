"""``voxbill cards generate|activate|deactivate``: the printer's CSV written once to a new
file (0600), activation funding once, ``ledger verify`` clean. The first command through
a real process, the others in process (``cli_runner``: the same command line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

from support.charging_world import build_world
from support.voxbill_process import cli_runner
from voxbill.bootstrap import Container
from voxbill.domain import cards as rules


def _voxbill(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOXBILL_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-c", "from voxbill.cli.main import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_generate_writes_the_pins_once_then_activate_funds(
    container: Container, database_url: str, tmp_path: Path
) -> None:
    world = build_world(container)
    run = cli_runner({"VOXBILL_DATABASE_URL": database_url}, tmp_path)
    out = tmp_path / "cards.csv"
    owner = str(world.customer)
    made = _voxbill(
        database_url,
        *("cards", "generate", "--owner", owner, "--count", "2", "--face-value", "2.50"),
        *("--valid-days", "90", "--output", str(out), "--json"),
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout == ""  # the PINs went to the file only
    summary = json.loads(made.stderr)
    assert (summary["size"], summary["first_serial"]) == (2, rules.serial(1))
    rows = out.read_text().splitlines()
    assert rows[0] == "serial,pin,face_value,currency,expiry,valid_days"
    assert rows[1].startswith(rules.serial(1) + ",")
    assert rows[1].endswith(",2.50,USD,,90")
    assert out.stat().st_mode & 0o777 == 0o600
    again = run(
        *("cards", "generate", "--owner", owner, "--count", "1", "--face-value", "1"),
        *("--output", str(out)),
    )
    assert again.returncode == 2
    assert "exists" in again.stderr

    batch = str(summary["batch_id"])
    first = run("cards", "activate", batch, "--to", rules.serial(1), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["funded"] == 1
    rest = run("cards", "activate", batch, "--json")
    assert (json.loads(rest.stdout)["funded"], json.loads(rest.stdout)["amount"]) == (1, "2.5")
    off = run("cards", "deactivate", batch)
    assert off.returncode == 0
    assert "2 cards deactivated" in off.stdout
    bad = run("cards", "activate", batch, "--from", "123")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
    assert container.cards.batch(world.system, int(batch))[1].remaining_value == D("0")
    assert run("ledger", "verify").returncode == 0
