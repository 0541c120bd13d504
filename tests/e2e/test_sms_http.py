"""SMS through a real ``voxbill serve`` and real sockets (SQLite): init, an SMS deck
imported by the CLI, a customer with an ANI, messages charged, replayed, refused,
listed — and ``voxbill ledger verify`` exits 0 afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from support.voxbill_process import cli_runner, sqlite_env, start_server, stop_server

DECK = "prefix,mcc_mnc,rate,destination\n44,,0.04,UK\n,234-15,0.03,UK Vodafone\n"


def test_sms_end_to_end(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    run = cli_runner(env, tmp_path)
    init = run("init", "--operator", "Acme SMS", "--currency", "EUR", "--json", check=True)
    (tmp_path / "sms.csv").write_text(DECK)
    run("rates", "import", "sms.csv", "--plan", "sms-eu", "--currency", "EUR", check=True)
    base_url, process = start_server(env, tmp_path)
    try:
        headers = {"Authorization": f"Bearer {json.loads(init.stdout)['api_key']}"}
        api = httpx.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=30)
        customer = api.post(
            "/accounts", json={"name": "Shop", "kind": "customer", "sms_plan": "sms-eu"}
        ).json()
        account = customer["id"]
        ani = {"type": "ani", "value": "+4915112345678"}
        assert api.post(f"/accounts/{account}/identifiers", json=ani).status_code == 201
        assert api.post(f"/accounts/{account}/topups", json={"amount": "0.10"}).status_code == 201

        sms = {"message_id": "e2e-1", "sender": "+4915112345678", "recipient": "+447700900123"}
        sms |= {"text": "Grüße! " * 12}  # 84 chars, ü and ß are GSM-7: one segment
        sent = api.post("/sms", json=sms)
        assert sent.status_code == 201, sent.text
        assert {k: sent.json()[k] for k in ("segments", "encoding", "cost", "balance")} == {
            "segments": 1,
            "encoding": "gsm7",
            "cost": "0.04",
            "balance": "0.06",
        }
        replayed = api.post("/sms", json=sms)
        assert (replayed.status_code, replayed.json()) == (200, sent.json())
        by_network = api.post("/sms", json=sms | {"message_id": "e2e-2", "mcc_mnc": "23415"})
        assert (by_network.json()["cost"], by_network.json()["balance"]) == ("0.03", "0.03")
        broke = api.post("/sms", json=sms | {"message_id": "e2e-3"})
        assert (broke.status_code, broke.json()["code"]) == (402, "insufficient_funds")
        listed = api.get("/messages", params={"account_id": account}).json()["items"]
        assert [m["message_id"] for m in listed] == ["e2e-2", "e2e-1"]
        api.close()
    finally:
        stop_server(process)
    assert run("ledger", "verify").returncode == 0
