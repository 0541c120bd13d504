"""Calls through a real ``voxbill serve`` and real sockets, on both dialects.

init → rate deck → customer with an ANI and funds → calls started and stopped over HTTP
→ an abandoned call settled by the sweeper running inside serve → ``ledger verify`` 0.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from support.voxbill_process import cli_runner, sqlite_env, start_server, stop_server

DECK = "prefix,rate,connect_fee,initial_increment,increment,destination\n44,0.10,0.01,30,6,UK\n"


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    environment = sqlite_env(tmp_path)
    environment["VOXBILL_DATABASE_URL"] = database_url
    environment["VOXBILL_SWEEPER_INTERVAL_SECONDS"] = "0.2"
    environment["VOXBILL_GRANT_CHUNK_SECONDS"] = "1"  # interim grants expire at once
    environment["VOXBILL_HOLD_EXPIRY_SLACK_SECONDS"] = "0"
    return environment


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[httpx.Client, int]]:
    """An admin client of a server with a funded customer (ANI +441000000001)."""
    run = cli_runner(env, tmp_path)
    admin_key = json.loads(
        run("init", "--operator", "Acme", "--currency", "USD", "--json", check=True).stdout
    )["api_key"]
    (tmp_path / "deck.csv").write_text(DECK)
    run(
        "rates",
        "import",
        str(tmp_path / "deck.csv"),
        "--plan",
        "retail",
        "--currency",
        "USD",
        check=True,
    )
    base_url, process = start_server(env, tmp_path)
    client = httpx.Client(
        base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    )
    try:
        customer = client.post(
            "/accounts", json={"name": "C", "kind": "customer", "rate_plan": "retail"}
        ).json()["id"]
        ani = {"type": "ani", "value": "+441000000001"}
        assert client.post(f"/accounts/{customer}/identifiers", json=ani).status_code == 201
        assert (
            client.post(f"/accounts/{customer}/topups", json={"amount": "10.00"}).status_code == 201
        )
        yield client, customer
    finally:
        client.close()
        stop_server(process)


def test_calls_over_http_then_the_sweeper_and_ledger_verify(
    server: tuple[httpx.Client, int], env: dict[str, str], tmp_path: Path
) -> None:
    client, customer = server
    authorized = client.post(
        "/calls/authorize", json={"caller": "+441000000001", "callee": "+442079460000"}
    ).json()
    assert (authorized["allowed"], authorized["max_duration"], authorized["rate"]) == (
        True,
        5994,
        "0.1",
    )

    def call(n: int) -> str:
        body = {"session_id": f"e{n}", "caller": "+441000000001", "callee": "+442079460000"}
        started = client.post("/calls", json=body | {"interim": True})
        assert started.status_code == 201, started.text
        stopped = client.post(f"/calls/e{n}/stop", json={"duration": 40})
        assert stopped.status_code == 200, stopped.text
        return str(stopped.json()["cost"])

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(call, range(20))) == {"0.08"}  # 0.01 + 42 s x 0.10/60
    balance = client.get(f"/accounts/{customer}/balance").json()
    assert (balance["balance"], balance["reserved"]) == ("8.40", "0.00")

    abandoned = {"session_id": "gone", "caller": "+441000000001", "callee": "+442079460000"}
    assert client.post("/calls", json=abandoned | {"interim": True}).status_code == 201
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # waiting for the sweeper, not timing it
        swept = client.get("/cdrs", params={"account_id": customer}).json()["items"]
        if any(c["session_id"] == "gone" for c in swept):
            break
        time.sleep(0.2)
    gone = next(c for c in swept if c["session_id"] == "gone")
    assert (gone["settled_by"], gone["duration"], gone["cost"]) == ("sweeper", 0, "0")
    assert client.get(f"/accounts/{customer}/balance").json()["reserved"] == "0.00"
    assert len(swept) == 21

    verify = cli_runner(env, tmp_path)("ledger", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
