"""``voxbill rates import … --dry-run``: the import's report, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voxbill.bootstrap import Container
from voxbill.cli.main import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_a_dry_run_reports_the_changes_and_writes_nothing(
    container: Container, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VOXBILL_DATABASE_URL", database_url)
    root, _ = container.accounts.ensure_operator("Acme", "USD")
    first = tmp_path / "first.csv"
    first.write_text("prefix,rate,destination\n44,0.05,UK\n33,0.30,France\n")
    assert _run("rates", "import", str(first), "--plan", "p", "--currency", "USD")[0] == 0
    before = container.rate_plans.plans_of(root.id), container.rate_plans.changes_of(root.id, "p")
    deck = tmp_path / "deck.csv"
    deck.write_text("prefix,rate,destination\n44,0.06,UK\n49,0.02,Germany\n")
    code, out = _run("rates", "import", str(deck), "--plan", "p", "--replace", "--dry-run")
    assert code == 0, out
    assert "dry run, nothing written" in out
    assert "1 increased, 1 new, 1 removed" in out
    code, out = _run(
        "rates", "import", str(deck), "--plan", "p", "--replace", "--dry-run", "--json"
    )
    assert code == 0, out
    report = json.loads(out)
    assert (report["dry_run"], report["import_id"]) == (True, None)
    assert report["changes"] == {"increased": 1, "new": 1, "removed": 1}
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,rate\n44,abc\n")
    code, out = _run("rates", "import", str(bad), "--plan", "p", "--dry-run")
    assert code != 0
    assert ":2:" in out
    after = container.rate_plans.plans_of(root.id), container.rate_plans.changes_of(root.id, "p")
    assert after == before
