"""``voxbill demo``: the README's first command gives a funded tree and a working key."""

from __future__ import annotations

import json

import httpx

from support.voxbill_process import RunVoxbill, StartServer


def test_demo_seeds_a_funded_tree_once(
    run_voxbill: RunVoxbill, voxbill_process: RunVoxbill, voxbill_server: StartServer
) -> None:
    first = voxbill_process("demo", "--no-serve", "--json")  # the installed command
    assert first.returncode == 0, first.stderr
    again = run_voxbill("demo", "--no-serve", "--json")  # idempotent: nothing twice
    assert again.returncode == 0, again.stderr
    data, data_again = json.loads(first.stdout), json.loads(again.stdout)
    ids = ("operator_id", "reseller_id", "customer_id")
    assert [data[k] for k in ids] == [data_again[k] for k in ids]
    assert data["api_key"] != data_again["api_key"]  # a new key each run, shown once

    base_url = voxbill_server()
    headers = {"authorization": f"Bearer {data_again['api_key']}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        customer = client.get(f"/api/v1/accounts/{data['customer_id']}/balance").json()
        reseller = client.get(f"/api/v1/accounts/{data['reseller_id']}/balance").json()
        quote = client.post(
            "/api/v1/quote",
            json={"plan": "demo-retail", "to": "+12125550100", "duration": 95},
        )
    # 100.00 topped up to the reseller, 25.00 passed on to the customer, once
    assert (customer["balance"], customer["currency"]) == ("25.00", "USD")
    assert reseller["balance"] == "75.00"
    assert quote.status_code == 200
    assert quote.json()["cost"] == "0.0144"
    verify = run_voxbill("ledger", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
