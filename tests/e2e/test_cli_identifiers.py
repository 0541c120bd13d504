"""``voxbill identifiers list`` / ``delete`` through the installed command, on SQLite and
PostgreSQL: the operator frees a value a tenant registered (issue 10, finding 4)."""

from __future__ import annotations

import json
from pathlib import Path

from support.voxbill_process import runner, sqlite_env
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.services.access.identifiers import IdentifierType


def test_list_then_delete_identifiers(
    container: Container, database_url: str, tmp_path: Path
) -> None:
    root, _ = container.accounts.ensure_operator("Acme", "USD")
    admin = Principal(root.id, root.path, Role.ADMIN)
    customer = container.accounts.create(admin, {"kind": "customer", "name": "C"}).id
    ani = container.identifiers.add(admin, customer, IdentifierType.ANI, "+441000000001", None)
    container.identifiers.add(admin, customer, IdentifierType.CARD, "40001234", "4321")
    run = runner({**sqlite_env(tmp_path), "VOXBILL_DATABASE_URL": database_url}, tmp_path)

    listed = run("identifiers", "list", "--account", str(customer), "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["type"], r["value"], r["account_id"]) for r in rows] == [
        ("ani", "441000000001", customer),
        ("card", "40001234", customer),
    ]
    assert "pin" not in json.dumps(rows)  # the PIN's hash is never shown
    plain = run("identifiers", "list", "--account", str(customer))
    assert f"{ani.id}  ani  441000000001" in plain.stdout.splitlines()

    deleted = run("identifiers", "delete", str(ani.id))
    assert deleted.returncode == 0, deleted.stderr
    assert f"deleted identifier {ani.id} (ani 441000000001) of account {customer}" in deleted.stdout
    assert container.identifiers.identify(operator_id=root.id, ani="+441000000001") is None
    again = run("identifiers", "delete", str(ani.id))
    assert again.returncode == 1
    assert again.stderr.strip() == "error: identifier not found [not_found]"
    unknown = run("identifiers", "list", "--account", "999999")
    assert unknown.returncode == 1
    assert run("identifiers", "delete", "x").returncode == 2
