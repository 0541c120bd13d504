"""``voxbill fraud high-risk add|list|remove`` (CSV with line numbers on bad input); the
charging of this process sees the list. The first command through a real process, the
others in process (``cli_runner``: the same command line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.voxbill_process import cli_runner
from voxbill.bootstrap import Container


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOXBILL_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-c", "from voxbill.cli.main import main; main()", "fraud", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_add_list_remove(container: Container, database_url: str, tmp_path: Path) -> None:
    root, _ = container.accounts.ensure_operator("Acme", "USD")
    run = cli_runner({"VOXBILL_DATABASE_URL": database_url}, tmp_path)
    csv_file = tmp_path / "risky.csv"
    csv_file.write_text("prefix,note\n882,satellite\n+4470,personal numbers\n")
    added = _cli(database_url, "high-risk", "add", "881", "--csv", str(csv_file), "--json")
    assert added.returncode == 0, added.stderr
    assert sorted(json.loads(added.stdout)["added"]) == ["4470", "881", "882"]
    listed = run("fraud", "high-risk", "list", "--json")
    assert json.loads(listed.stdout) == [
        {"prefix": "4470", "note": "personal numbers"},
        {"prefix": "881", "note": None},
        {"prefix": "882", "note": "satellite"},
    ]
    assert [p.prefix for p in container.high_risk.of_operator(root.id)] == ["4470", "881", "882"]
    removed = run("fraud", "high-risk", "remove", "881")
    assert removed.returncode == 0, removed.stderr
    assert run("fraud", "high-risk", "remove", "881").returncode != 0
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix\n44\n44x\n")
    refused = run("fraud", "high-risk", "add", "--csv", str(bad))
    assert refused.returncode == 2
    assert "line 3" in refused.stdout + refused.stderr
    assert [p.prefix for p in container.high_risk.of_operator(root.id)] == ["4470", "882"]
