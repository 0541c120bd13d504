"""POST /api/v1/quote through a real ``voxbill serve`` process and a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from support.voxbill_process import cli_runner, sqlite_env, start_server, stop_server

DECK = """prefix,destination,rate,connect_fee,initial_increment,increment,grace,time_profile
33,France,0.05,0.01,30,6,0,
44,United Kingdom,0.1,0,1,1,0,
447,UK Mobile,0.60,0,6,6,0,mon-fri 08:00-18:00
447,UK Mobile,0.06,0,6,6,0,mon-fri 18:00-08:00|sat-sun
"""
PROBLEM_JSON = "application/problem+json"


@dataclass
class Server:
    base_url: str
    api_key: str

    def quote(self, body: Any, **headers: str) -> httpx.Response:
        content = body if isinstance(body, str | bytes) else json.dumps(body)
        return httpx.post(
            f"{self.base_url}/api/v1/quote",
            content=content,
            headers={
                "content-type": "application/json",
                "authorization": f"Bearer {self.api_key}",
                **headers,
            },
            timeout=10,
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("api")
    env = sqlite_env(directory)
    run = cli_runner(env, directory)
    init = run("init", "--operator", "Acme", "--json", check=True)
    api_key = json.loads(init.stdout)["api_key"]
    deck = directory / "deck.csv"
    deck.write_text(DECK, encoding="utf-8")
    run("rates", "import", str(deck), "--plan", "retail", "--currency", "EUR", check=True)
    base_url, process = start_server(env, directory)
    try:
        yield Server(base_url, api_key)
    finally:
        stop_server(process)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["detail"]
    return dict(body)


def test_health(server: Server) -> None:
    response = httpx.get(f"{server.base_url}/api/v1/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_quote_the_worked_example(server: Server) -> None:
    response = server.quote({"plan": "retail", "to": "+33 1 23 45 67 89", "duration": 40})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cost"] == "0.0450"
    assert body["currency"] == "EUR"
    assert body["billed_seconds"] == 42
    assert (body["prefix"], body["destination"]) == ("33", "France")
    assert body["rate"] == "0.05"
    assert body["number"] == "33123456789"
    assert isinstance(body["cost"], str)


def test_quote_rounds_once(server: Server) -> None:
    body = server.quote({"plan": "retail", "to": "0044207946", "duration": 70}).json()
    assert body["cost"] == "0.1167"
    assert body["exact_cost"].startswith("0.1166666666")


def test_quote_with_available_gives_max_duration(server: Server) -> None:
    body = server.quote(
        {"plan": "retail", "to": "33123", "duration": 0, "available": "0.045"}
    ).json()
    assert body["max_duration"] == 42
    # money is a decimal string: a JSON number, even an integer, is refused (issue 10, #15)
    integer = server.quote({"plan": "retail", "to": "33123", "duration": 0, "available": 1})
    assert (integer.status_code, integer.json()["code"]) == (422, "invalid_input")


def test_quote_across_peak_and_off_peak(server: Server) -> None:
    body = server.quote(
        {"plan": "retail", "to": "+447911123456", "duration": 60, "at": "2026-03-02T17:59:33Z"}
    ).json()
    assert Decimal(body["exact_cost"]) == Decimal("0.33")
    assert body["cost"] == "0.3300"


def test_a_json_float_is_refused_as_money(server: Server) -> None:
    response = server.quote({"plan": "retail", "to": "33123", "duration": 0, "available": 0.045})
    problem = assert_problem(response, 422, "invalid_input")
    assert "decimal string" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"plan": "retail", "to": "+81312345678", "duration": 60}, 404, "no_rate"),
        ({"plan": "nope", "to": "+33123", "duration": 60}, 404, "unknown_rate_plan"),
        ({"plan": "retail", "to": "hello", "duration": 60}, 422, "invalid_number"),
        ({"plan": "retail", "to": "+", "duration": 60}, 422, "invalid_number"),
        ({"plan": "retail", "to": "+33123", "duration": -1}, 422, "invalid_input"),
        ({"plan": "retail", "to": "+33123", "duration": 10**9}, 422, "invalid_input"),
        ({"plan": "retail", "to": "+33123", "duration": "long"}, 422, "invalid_input"),
        ({"plan": "retail", "to": "+33123"}, 422, "invalid_input"),
        ({"plan": "retail", "to": "+33123", "duration": 6, "extra": 1}, 422, "invalid_input"),
        ({"plan": "retail", "to": "+33123", "duration": 6, "at": "soon"}, 422, "invalid_input"),
        (
            {"plan": "retail", "to": "+33123", "duration": 6, "at": "0001-01-01T00:00:00Z"},
            422,
            "invalid_input",
        ),
        (
            {"plan": "retail", "to": "+447911", "duration": 6, "at": "9999-12-31T23:59:59Z"},
            422,
            "invalid_input",
        ),
        (
            {"plan": "retail", "to": "+447911", "duration": 6, "at": "0001-01-01T00:00:00+01:00"},
            422,
            "invalid_input",
        ),
        (
            {"plan": "retail", "to": "+33123", "duration": 6, "available": "NaN"},
            422,
            "invalid_input",
        ),
        (
            {"plan": "retail", "to": "+33123", "duration": 6, "available": "1e999999"},
            422,
            "invalid_input",
        ),
        (
            {"plan": "retail", "to": "+33123", "duration": 6, "available": "abc"},
            422,
            "invalid_input",
        ),
        (
            {"plan": "retail", "to": "+33123", "duration": 6, "available": True},
            422,
            "invalid_input",
        ),
        ([1, 2], 422, "invalid_input"),
        ("{not json", 422, "invalid_input"),
        ("", 422, "invalid_input"),
    ],
)
def test_bad_input_is_a_4xx_problem_never_a_500(
    server: Server, body: Any, status: int, code: str
) -> None:
    response = server.quote(body)
    assert response.status_code < 500, response.text
    assert_problem(response, status, code)


def test_quote_needs_an_api_key(server: Server) -> None:
    response = httpx.post(
        f"{server.base_url}/api/v1/quote",
        json={"plan": "retail", "to": "+33123", "duration": 6},
        timeout=10,
    )
    assert_problem(response, 401, response.json()["code"])
    wrong = Server(server.base_url, "vbk_nope_nope").quote(
        {"plan": "retail", "to": "+33123", "duration": 6}
    )
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith(PROBLEM_JSON)


def test_openapi_declares_money_as_strings(server: Server) -> None:
    schema = httpx.get(f"{server.base_url}/api/v1/openapi.json", timeout=10).json()
    components = schema["components"]["schemas"]
    for field in ("cost", "rate"):
        assert components["QuoteRead"]["properties"][field]["type"] == "string"
    available = components["QuoteRequest"]["properties"]["available"]
    types = {option.get("type") for option in available.get("anyOf", [available])}
    assert "number" not in types
    assert "string" in types
