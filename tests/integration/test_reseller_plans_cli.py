"""``voxbill rates copy|delete|list`` and ``rates import --owner`` (the operator's side of
reseller plans), in process over each dialect."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voxbill.bootstrap import Container
from voxbill.cli.main import app
from voxbill.domain.access import Principal, Role

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def world(
    container: Container, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, int]:
    monkeypatch.setenv("VOXBILL_DATABASE_URL", database_url)
    root, _ = container.accounts.ensure_operator("Acme", "USD")
    system = Principal(root.id, root.path, Role.ADMIN)
    reseller = container.accounts.create(
        system, {"kind": "reseller", "name": "R", "parent_id": root.id}
    ).id
    customer = container.accounts.create(
        system, {"kind": "customer", "name": "C", "parent_id": reseller}
    ).id
    return {"root": root.id, "reseller": reseller, "customer": customer}


def test_the_operator_copies_imports_lists_and_deletes_a_resellers_plans(
    world: dict[str, int], container: Container, tmp_path: Path
) -> None:
    deck = tmp_path / "buy.csv"
    deck.write_text("prefix,rate,destination\n44,0.05,UK\n33,0.30,France\n")
    code, out = _run("rates", "import", str(deck), "--plan", "r-buy", "--currency", "USD")
    assert code == 0, out
    owner = str(world["reseller"])
    code, out = _run(
        "rates", "copy", "--from", "r-buy", "--to", "r-plus20",
        "--markup-percent", "20", "--owner", owner, "--json",
    )  # fmt: skip
    assert code == 0, out
    assert '"owner_account_id": ' + owner in out
    assert '"rows": 2' in out
    quote = container.rating.quote(world["root"], "r-plus20", "+44 20 7946 0958", 60)
    assert quote.rating.cost == Decimal("0.06")
    # the reseller's own plan takes its own deck with --owner; nobody else's name does
    own = tmp_path / "own.csv"
    own.write_text("prefix,rate\n49,0.07\n")
    code, out = _run("rates", "import", str(own), "--plan", "r-plus20", "--owner", owner)
    assert code == 0, out
    code, out = _run("rates", "import", str(own), "--plan", "r-buy", "--owner", owner)
    assert code == 1
    assert "already has a rate plan named 'r-buy'" in out
    code, out = _run(
        "rates", "copy", "--from", "r-buy", "--to", "c-plan", "--owner", str(world["customer"])
    )
    assert code == 2, out
    assert "not a reseller" in out
    code, out = _run("rates", "copy", "--from", "r-buy", "--to", "r-plus20")
    assert code == 1
    assert "already has a rate plan" in out
    code, out = _run("rates", "list")
    assert code == 0
    assert f"account {owner}" in out
    # assigned: not deleted; unassigned: gone
    system = Principal(world["root"], f"/{world['root']}/", Role.ADMIN)
    container.accounts.patch(system, world["customer"], {"rate_plan": "r-plus20"})
    code, out = _run("rates", "delete", "--plan", "r-plus20")
    assert code == 1
    assert "rates accounts" in out
    container.accounts.patch(system, world["customer"], {"rate_plan": None})
    code, out = _run("rates", "delete", "--plan", "r-plus20")
    assert code == 0, out
    code, out = _run("rates", "delete", "--plan", "r-plus20")
    assert code == 2
    assert "no rate plan named" in out
