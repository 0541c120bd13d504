"""Every legal Call-ID is addressable over real HTTP (issue 10, finding 10).

A session id with ``/``, ``@`` and ``%`` is started, updated and stopped through a real
``voxbill serve``, with the fast lanes on and off, on both dialects: the stop settles
it at the reported duration (before the fix, update and stop were 404 and the sweeper
charged the whole grant).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from support.voxbill_process import cli_runner, sqlite_env, start_server, stop_server

DECK = "prefix,rate,connect_fee,initial_increment,increment,destination\n44,0.10,0,1,1,UK\n"
CALL_IDS = ["abc/def@host", "a%2Fb/../c@10.0.0.1:5060", "x/"]


@pytest.fixture(params=["lanes", "routes"])
def client(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[httpx.Client]:
    env = sqlite_env(tmp_path)
    env["VOXBILL_DATABASE_URL"] = database_url
    env["VOXBILL_FAST_LANE"] = "1" if request.param == "lanes" else "0"
    run = cli_runner(env, tmp_path)
    init = run("init", "--operator", "Acme", "--currency", "USD", "--json", check=True)
    key = json.loads(init.stdout)["api_key"]
    (tmp_path / "deck.csv").write_text(DECK)
    deck = str(tmp_path / "deck.csv")
    run("rates", "import", deck, "--plan", "retail", "--currency", "USD", check=True)
    base_url, process = start_server(env, tmp_path)
    http = httpx.Client(
        base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    try:
        customer = http.post(
            "/accounts", json={"name": "C", "kind": "customer", "rate_plan": "retail"}
        ).json()["id"]
        ani = {"type": "ani", "value": "+441000000001"}
        assert http.post(f"/accounts/{customer}/identifiers", json=ani).status_code == 201
        topup = http.post(f"/accounts/{customer}/topups", json={"amount": "10.00"})
        assert topup.status_code == 201
        yield http
    finally:
        http.close()
        stop_server(process)


def test_session_ids_with_slashes_are_started_updated_and_stopped(client: httpx.Client) -> None:
    for call_id in CALL_IDS:
        start = {
            "session_id": call_id,
            "caller": "+441000000001",
            "callee": "+442079460000",
            "interim": True,
        }
        started = client.post("/calls", json=start)
        assert started.status_code == 201, (call_id, started.text)
        path = f"/calls/{quote(call_id, safe='')}"  # one path segment: / as %2F, % as %25
        updated = client.post(f"{path}/update", json={"duration": 30})
        assert updated.status_code == 200, (call_id, updated.text)
        assert updated.json()["session_id"] == call_id
        stopped = client.post(f"{path}/stop", json={"duration": 60})
        assert stopped.status_code == 200, (call_id, stopped.text)
        settled = stopped.json()
        assert settled["session_id"] == call_id
        assert settled["billed_seconds"] == 60
        assert settled["cost"] == "0.1"
        again = client.post(f"{path}/stop", json={"duration": 60})
        assert again.status_code == 200
        assert again.headers.get("idempotent-replayed") == "true"
