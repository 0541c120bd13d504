"""Two operators on one installation, through the installed command and a real server
(issue 10, finding 2: ``voxbill init --operator B`` then B's key uploaded into A's plan
and listed A's plans). On SQLite and PostgreSQL.

A plan is its operator's: with one operator ``--operator`` may be left out; with several
every ``voxbill rates …`` / ``voxbill rate`` command needs it (one clear line, exit 2);
a plan imported before any operator existed belongs to the first one created; B's key
and B's commands never read or change A's plan of the same name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.voxbill_process import (
    RunVoxbill,
    cli_runner,
    sqlite_env,
    start_server,
    stop_server,
)

A_DECK = "prefix,rate,destination\n44,0.10,UK\n33,0.20,France\n"
B_DECK = "prefix,rate,destination\n44,0.50,UK\n"
UK = "+442079460000"


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {**sqlite_env(tmp_path), "VOXBILL_DATABASE_URL": database_url}


@pytest.fixture
def run(env: dict[str, str], tmp_path: Path) -> RunVoxbill:
    return cli_runner(env, tmp_path)


def _json(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _deck(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _cost(run: RunVoxbill, *operator: str) -> tuple[str, str]:
    data = _json(
        run("rate", "--plan", "retail", "--to", UK, "--duration", "60", *operator, "--json")
    )
    return data["cost"], data["currency"]


def _one_clear_line(result: Any, *expected: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip().count("\n") == 0, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def test_each_operator_imports_lists_and_rates_its_own_plan(
    run: RunVoxbill, tmp_path: Path
) -> None:
    a_deck, b_deck = _deck(tmp_path, "a.csv", A_DECK), _deck(tmp_path, "b.csv", B_DECK)
    # no operator yet: the plan waits for the first one, which adopts it
    _json(run("rates", "import", a_deck, "--plan", "retail", "--currency", "EUR", "--json"))
    a = _json(run("init", "--operator", "Acme", "--json"))["account_id"]
    assert _cost(run) == ("0.1000", "EUR")  # one operator: --operator may be left out
    b = _json(run("init", "--operator", "Globex", "--json"))["account_id"]

    several = f"several operators: {a} (Acme), {b} (Globex); say which with --operator ID"
    _one_clear_line(run("rate", "--plan", "retail", "--to", UK, "--duration", "60"), several)
    _one_clear_line(run("rates", "import", b_deck, "--plan", "retail"), several)
    _one_clear_line(run("rates", "changes", "--plan", "retail"), several)
    _one_clear_line(run("rates", "list"), several)
    _one_clear_line(
        run("rates", "list", "--operator", "999"), "--operator 999: no operator root account"
    )
    # Globex has no plan named retail: Acme's does not exist for it
    _one_clear_line(
        run("rate", "--plan", "retail", "--to", UK, "--duration", "60", "--operator", str(b)),
        "no rate plan named 'retail'",
    )
    _one_clear_line(
        run("rates", "changes", "--plan", "retail", "--operator", str(b)),
        "no rate plan named 'retail'",
    )
    # importing under the same name makes Globex's own plan, in its own currency
    report = _json(
        run("rates", "import", b_deck, "--plan", "retail", "--currency", "USD",
            "--operator", str(b), "--json")
    )  # fmt: skip
    assert (report["currency"], report["changes"]) == ("USD", {"new": 1})
    assert _cost(run, "--operator", str(a)) == ("0.1000", "EUR")
    assert _cost(run, "--operator", str(b)) == ("0.5000", "USD")
    a_changes = _json(run("rates", "changes", "--plan", "retail", "--operator", str(a), "--json"))
    b_changes = _json(run("rates", "changes", "--plan", "retail", "--operator", str(b), "--json"))
    assert sorted(c["prefix"] for c in a_changes) == ["33", "44"]
    assert [(c["prefix"], c["new_rate"]) for c in b_changes] == [("44", "0.5")]
    listed = run("rates", "list", "--operator", str(b))
    assert listed.returncode == 0, listed.stderr
    assert "USD" in listed.stdout
    assert "EUR" not in listed.stdout


def test_another_operators_key_over_http_cannot_reach_the_plan(
    run: RunVoxbill, env: dict[str, str], tmp_path: Path
) -> None:
    """The review's attack, replayed against ``voxbill serve``: B's admin key lists,
    shows, quotes and uploads into "retail" — and only ever reaches its own."""
    a = _json(run("init", "--operator", "Acme", "--json"))["account_id"]
    a_deck = _deck(tmp_path, "a.csv", A_DECK)
    _json(run("rates", "import", a_deck, "--plan", "retail", "--currency", "EUR", "--json"))
    b_init = _json(run("init", "--operator", "Globex", "--json"))
    b, b_key = b_init["account_id"], b_init["api_key"]
    base_url, server = start_server(env, tmp_path)
    try:
        with httpx.Client(
            base_url=f"{base_url}/api/v1", headers={"authorization": f"Bearer {b_key}"}, timeout=30
        ) as http:
            assert http.get("/rate-plans").json()["items"] == []
            for response in (
                http.get("/rate-plans/retail"),
                http.get("/rate-plans/retail/changes"),
                http.post("/quote", json={"plan": "retail", "to": UK, "duration": 60}),
            ):
                assert response.status_code == 404, response.text
                assert response.json()["code"] == "unknown_rate_plan"
            attack = http.post(
                "/rate-plans/retail/deck?replace=true",
                content="prefix,rate\n44,0.0001\n",
                headers={"content-type": "text/csv"},
            )
            assert attack.status_code == 422, attack.text  # a new plan of Globex's own
            own = http.post(
                "/rate-plans/retail/deck?currency=USD",
                content=B_DECK,
                headers={"content-type": "text/csv"},
            )
            assert own.status_code == 201, own.text
            listed = http.get("/rate-plans").json()["items"]
            assert [(p["name"], p["operator_id"], p["currency"]) for p in listed] == [
                ("retail", b, "USD")
            ]
            quoted = http.post("/quote", json={"plan": "retail", "to": UK, "duration": 60})
            assert quoted.json()["cost"] == "0.5000"
    finally:
        stop_server(server)
    assert _cost(run, "--operator", str(a)) == ("0.1000", "EUR")
