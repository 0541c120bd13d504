"""``voxbill serve --radius PORT`` as an operator runs it, driven by the real radclient:
the demo customer is authorized, its call accounted, and the charge shows in its
balance over the API."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import httpx

from support.radius_peer import SECRET, free_udp_pair, radclient, require_radclient
from support.voxbill_process import (
    VOXBILL,
    RunVoxbill,
    cli_runner,
    free_port,
    stop_server,
    wait_until_healthy,
)

UK_MOBILE = "+447911123456"


def test_serve_with_radius_authorizes_and_charges_a_call(
    run_voxbill: RunVoxbill, voxbill_env: dict[str, str], tmp_path: Path
) -> None:
    require_radclient()
    data = json.loads(run_voxbill("demo", "--no-serve", "--json", check=True).stdout)
    radius, http = free_udp_pair(), free_port()
    clients = f"127.0.0.0/8={SECRET}@{data['operator_id']}"  # NETWORK=SECRET@OPERATOR_ID
    env = voxbill_env | {"VOXBILL_RADIUS_CLIENTS": clients}
    args = ["serve", "--host", "127.0.0.1", "--port", str(http), "--radius", str(radius)]
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [str(VOXBILL), *args], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://127.0.0.1:{http}"
        wait_until_healthy(base, process)
        call = {"Calling-Station-Id": data["customer_ani"], "Called-Station-Id": UK_MOBILE}
        accept = radclient(radius, "auth", call)
        assert accept is not None
        assert accept.code == "Access-Accept"
        assert int(accept.one("Session-Timeout")) > 0
        session = call | {"Acct-Session-Id": "e2e-1"}
        for status in (
            {"Acct-Status-Type": "Start"},
            {"Acct-Status-Type": "Stop", "Acct-Session-Time": 60},
        ):
            answer = radclient(radius, "acct", session | status)
            assert answer is not None
            assert answer.code == "Accounting-Response"
        headers = {"authorization": f"Bearer {data['api_key']}"}
        url = f"{base}/api/v1/accounts/{data['customer_id']}/balance"
        balance = httpx.get(url, headers=headers, timeout=10).json()
        assert Decimal(balance["balance"]) < Decimal("25.00")
    finally:
        stop_server(process)


def test_serve_refuses_a_radius_client_bound_to_no_operator_among_several(
    voxbill_env: dict[str, str], tmp_path: Path
) -> None:
    """With two operators, a client that names none would look callers up across both:
    ``serve`` stops before listening, with one line saying what to write."""
    run = cli_runner(voxbill_env | {"VOXBILL_RADIUS_CLIENTS": f"127.0.0.0/8={SECRET}"}, tmp_path)
    run("init", "--operator", "Acme", "--json", check=True)
    run("init", "--operator", "Rival", "--json", check=True)
    args = ["serve", "--port", str(free_port()), "--radius", str(free_udp_pair())]
    refused = run(*args)
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: VOXBILL_RADIUS_CLIENTS: 127.0.0.0/8 names no operator")
    assert SECRET not in line
