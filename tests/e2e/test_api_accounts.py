"""Accounts and money through a real ``voxbill serve`` and real sockets, on both dialects.

init → reseller → customer → top-up → funding transfer → adjustments (idempotent, some
concurrent) → balance; other tenants see nothing; bad input is a 4xx; then
``voxbill ledger verify`` exits 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from support.voxbill_process import cli_runner, runner, sqlite_env, start_server, stop_server


class Api:
    def __init__(self, base_url: str, key: str) -> None:
        self.client = httpx.Client(
            base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def post(self, path: str, body: object, **headers: str) -> httpx.Response:
        return self.client.post(path, json=body, headers=headers)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    environment = sqlite_env(tmp_path)
    environment["VOXBILL_DATABASE_URL"] = database_url
    return environment


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, admin key) of a server over a database ``voxbill init`` prepared."""
    run = cli_runner(env, tmp_path)
    init = run("init", "--operator", "Acme Telecom", "--currency", "EUR", "--json", check=True)
    admin_key = json.loads(init.stdout)["api_key"]
    base_url, process = start_server(env, tmp_path)
    try:
        yield base_url, admin_key
    finally:
        stop_server(process)


def test_reseller_hierarchy_and_money_end_to_end(
    server: tuple[str, str], env: dict[str, str], tmp_path: Path
) -> None:
    base_url, admin_key = server
    admin = Api(base_url, admin_key)
    reseller = admin.post("/accounts", {"name": "Reseller One", "kind": "reseller"})
    assert reseller.status_code == 201, reseller.text
    reseller_id = reseller.json()["id"]
    assert reseller.json()["currency"] == "EUR"
    issued = admin.post(f"/accounts/{reseller_id}/api-keys", {"role": "reseller"})
    assert issued.status_code == 201, issued.text
    res = Api(base_url, issued.json()["api_key"])

    customer = res.post(
        "/accounts",
        {"name": "Hotel Miramar", "kind": "customer", "alert_balance": "5", "block_balance": "0"},
    )
    assert customer.status_code == 201, customer.text
    customer_id = customer.json()["id"]
    assert customer.json()["parent_id"] == reseller_id

    top = admin.post(
        f"/accounts/{reseller_id}/topups", {"amount": "100.00"}, **{"Idempotency-Key": "t1"}
    )
    assert top.status_code == 201, top.text
    replay = admin.post(
        f"/accounts/{reseller_id}/topups", {"amount": "100.00"}, **{"Idempotency-Key": "t1"}
    )
    assert replay.status_code == 201
    assert replay.json() == top.json()
    conflict = admin.post(
        f"/accounts/{reseller_id}/topups", {"amount": "99.00"}, **{"Idempotency-Key": "t1"}
    )
    assert conflict.status_code == 409
    assert conflict.headers["content-type"].startswith("application/problem+json")
    assert conflict.json()["code"] == "idempotency_conflict"

    funded = res.post(
        f"/accounts/{reseller_id}/transfers", {"to_account_id": customer_id, "amount": "40.00"}
    )
    assert funded.status_code == 201, funded.text

    adjustment = res.post(
        f"/accounts/{customer_id}/adjustments",
        {"amount": "-1.50", "reason": "number porting"},
        **{"Idempotency-Key": "adj-1"},
    )
    assert adjustment.status_code == 201, adjustment.text

    def decrement(n: int) -> int:
        response = res.post(
            f"/accounts/{customer_id}/adjustments",
            {"amount": "-0.25", "reason": f"usage {n}"},
            **{"Idempotency-Key": f"usage-{n}"},
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(decrement, [n for n in range(20) for _ in range(2)]))
    # each key sent twice at once: both answered 201, only one posted (balance below)
    assert statuses == [201] * 40

    balance = res.get(f"/accounts/{customer_id}/balance")
    assert balance.status_code == 200, balance.text
    body = balance.json()
    # 40.00 - 1.50 - 20 × 0.25
    assert Decimal(body["balance"]) == Decimal("33.50")
    assert body["balance"] == "33.50"
    assert body["currency"] == "EUR"
    assert Decimal(body["available"]) == Decimal("33.50")
    # 100.00 - 40.00 funded; a reseller's debits of its customer come back to it: + 6.50
    assert Decimal(res.get(f"/accounts/{reseller_id}/balance").json()["balance"]) == Decimal(
        "66.50"
    )

    history = res.get(f"/accounts/{customer_id}/ledger?limit=5").json()
    assert len(history["items"]) == 5
    assert history["next_before_id"] is not None

    # another reseller's key sees nothing of this tree and changes nothing
    other = admin.post("/accounts", {"name": "Reseller Two", "kind": "reseller"}).json()
    other_key = admin.post(f"/accounts/{other['id']}/api-keys", {"role": "reseller"}).json()
    intruder = Api(base_url, other_key["api_key"])
    for path in (f"/accounts/{customer_id}", f"/accounts/{customer_id}/balance"):
        assert intruder.get(path).status_code == 404
    stolen = intruder.post(
        f"/accounts/{customer_id}/adjustments", {"amount": "-33.50", "reason": "mine now"}
    )
    assert stolen.status_code == 404

    # bad input: a 4xx problem, never a 500, nothing changed
    for bad in (
        {"amount": 1.5, "reason": "float"},
        {"amount": "abc", "reason": "x"},
        {"amount": "-1"},
        {"amount": "-1", "reason": "x", "surprise": True},
    ):
        refused = res.post(f"/accounts/{customer_id}/adjustments", bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["code"].startswith("invalid")
    junk = res.client.post(
        f"/accounts/{customer_id}/adjustments",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert junk.status_code == 422
    assert res.get("/accounts/999999").status_code == 404
    assert Decimal(res.get(f"/accounts/{customer_id}/balance").json()["balance"]) == Decimal(
        "33.50"
    )

    result = cli_runner(env, tmp_path)("ledger", "verify")
    assert result.returncode == 0, result.stdout + result.stderr


def test_init_and_apikey_create_on_the_command_line(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)  # the command line, not the dialect, is tested
    process, run = runner(env, tmp_path), cli_runner(env, tmp_path)  # installed, in process
    first = json.loads(process("init", "--operator", "Acme", "--json", check=True).stdout)
    again = json.loads(run("init", "--operator", "Acme", "--json", check=True).stdout)
    assert first["account_id"] == again["account_id"]  # upgrade: same root, a new key
    assert first["api_key"] != again["api_key"]
    assert first["api_key"].startswith("vbk_")
    support = process(
        "apikey", "create", "--account", str(first["account_id"]), "--role", "support", "--json"
    )
    assert support.returncode == 0, support.stderr
    assert json.loads(support.stdout)["api_key"].startswith("vbk_")
    text = run("apikey", "create", "--account", str(first["account_id"]), "--role", "admin")
    assert text.returncode == 0
    assert text.stdout.strip().startswith("vbk_")
    wrong_kind = run("apikey", "create", "--account", str(first["account_id"]), "--role", "user")
    assert wrong_kind.returncode == 2
    assert wrong_kind.stderr.count("\n") == 1
    missing = run("apikey", "create", "--account", "999", "--role", "user")
    assert missing.returncode == 1
    bad_role = run("apikey", "create", "--account", "1", "--role", "god")
    assert bad_role.returncode == 2
