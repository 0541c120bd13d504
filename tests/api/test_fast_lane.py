"""``POST /calls/authorize``'s fast lane answers exactly what the route answers: the same
status, headers and bytes, for the plain case it takes and for everything it hands over
(bad key, bad body, card, ``at``, support key, another tenant's caller).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from support.charging_world import FRANCE, UK, World, build_world
from voxbill.api import fast_lane
from voxbill.api.app import create_app
from voxbill.bootstrap import Container
from voxbill.domain.access import Role
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.charging.service import CallerId

URL = "/api/v1/calls/authorize"


@pytest.fixture
def container(warm_container: Container) -> Container:
    """Caches that outlive the test (conftest.warm_container): the lanes answer from warm
    caches only, and the default 2 s did not always hold on a busy machine."""
    return warm_container


class Keys:
    def __init__(self, world: World) -> None:
        auth = world.container.auth
        self.admin = auth.issue(world.system, world.root, Role.ADMIN).secret
        self.reseller = auth.issue(world.system, world.reseller, Role.RESELLER).secret
        self.support = auth.issue(world.system, world.root, Role.SUPPORT).secret
        self.customer = auth.issue(world.system, world.customer, Role.CUSTOMER).secret
        other = world.create(world.root, "reseller", "Other", rate_plan="wholesale")
        self.other = auth.issue(world.system, other, Role.RESELLER).secret


@pytest.fixture
def world(container: Container) -> World:
    w = build_world(container)
    ids = container.identifiers
    broke = w.create(w.customer, "user", "Broke", rate_plan="retail")  # own balance: 0
    ids.add(w.system, broke, IdentifierType.ANI, "+441000000002", None)
    blocked = w.create(w.reseller, "customer", "Blocked", rate_plan="retail")
    w.fund(blocked, "10")
    w.patch(blocked, status="blocked")
    ids.add(w.system, blocked, IdentifierType.ANI, "+441000000003", None)
    busy = w.create(w.reseller, "customer", "Busy", rate_plan="retail", max_concurrent_calls=1)
    w.fund(busy, "10")
    ids.add(w.system, busy, IdentifierType.ANI, "+441000000004", None)
    container.charging.start("busy-1", CallerId(ani="+441000000004"), UK)
    return w


@pytest.fixture
def clients(container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    assert container.settings.fast_lane  # on by default
    on = create_app(container)
    monkeypatch.setattr(container.settings, "fast_lane", False)
    off = create_app(container)
    monkeypatch.setattr(container.settings, "fast_lane", True)
    with (
        TestClient(on, raise_server_exceptions=False) as lane,
        TestClient(off, raise_server_exceptions=False) as route,
    ):
        yield lane, route


def _corpus(world: World, keys: Keys) -> list[tuple[str, str | None, Any, bool]]:
    """(name, key, body, answered by the lane)."""
    C, AT = "+441000000001", "2026-03-02T12:00:00Z"
    CARD, BAD_PIN = {"card": "12345678", "pin": "4321"}, {"card": "12345678", "pin": "1"}
    user = {"account_id": world.user}
    return [
        ("allowed", keys.reseller, {"caller": C, "callee": UK}, True),
        ("allowed, admin", keys.admin, {"caller": C, "callee": FRANCE}, True),
        ("sip user", keys.reseller, {"caller": {"sip_user": "alice"}, "callee": UK}, True),
        ("account id", keys.admin, {"caller": user, "callee": UK}, True),
        ("insufficient funds", keys.reseller, {"caller": "+441000000002", "callee": UK}, True),
        ("blocked", keys.reseller, {"caller": "+441000000003", "callee": UK}, True),
        ("concurrency", keys.reseller, {"caller": "+441000000004", "callee": UK}, True),
        ("no rate", keys.reseller, {"caller": C, "callee": "+12125550100"}, True),
        ("invalid number", keys.reseller, {"caller": C, "callee": "abc"}, True),
        ("unknown caller", keys.reseller, {"caller": "+449999999999", "callee": UK}, True),
        ("no identifier", keys.reseller, {"caller": {}, "callee": UK}, True),
        ("another tenant", keys.other, {"caller": C, "callee": UK}, True),  # unknown_caller
        ("another tenant's id", keys.other, {"caller": user, "callee": UK}, False),
        ("unknown account id", keys.admin, {"caller": {"account_id": 99999}, "callee": UK}, False),
        ("support key", keys.support, {"caller": C, "callee": UK}, False),
        ("customer key", keys.customer, {"caller": C, "callee": UK}, False),
        ("no key", None, {"caller": C, "callee": UK}, False),
        ("forged key", "vbk_00000000_forged", {"caller": C, "callee": UK}, False),
        ("card", keys.reseller, {"caller": CARD, "callee": UK}, False),
        ("card, wrong pin", keys.reseller, {"caller": BAD_PIN, "callee": UK}, False),
        ("at", keys.admin, {"caller": C, "callee": UK, "at": AT}, False),
        ("at, reseller", keys.reseller, {"caller": C, "callee": UK, "at": AT}, False),
        ("extra field", keys.reseller, {"caller": C, "callee": UK, "x": 1}, False),
        ("missing callee", keys.reseller, {"caller": C}, False),
        ("not an object", keys.reseller, [1, 2], False),
        ("bad json", keys.reseller, b'{"caller": ', False),
        ("empty body", keys.reseller, b"", False),
        ("nul", keys.reseller, {"caller": "+44100000\x000001", "callee": UK}, False),
    ]  # fmt: skip


def _send(client: TestClient, key: str | None, body: Any, **extra: str) -> Any:
    headers = {"content-type": "application/json", **extra}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(URL, content=content, headers=headers)


def test_the_lane_answers_what_the_route_answers(
    world: World, clients: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    lane, route = clients
    keys = Keys(world)
    corpus = _corpus(world, keys)
    for _name, key, body, _fast in corpus:  # every key and caller loaded once, as a switch does
        _send(lane, key, body)
    answered: list[int] = []
    real = fast_lane.FastLane._answer

    async def counted(self: fast_lane.FastLane, *args: Any) -> Any:
        response = await real(self, *args)
        if response is not None:
            answered.append(1)
        return response

    monkeypatch.setattr(fast_lane.FastLane, "_answer", counted)
    statuses = set()
    for name, key, body, fast in corpus:
        before = len(answered)
        fast_answer = _send(lane, key, body)
        assert (len(answered) > before) is fast, name
        slow = _send(route, key, body)
        assert len(answered) == before + fast, name
        assert fast_answer.status_code == slow.status_code, name
        assert fast_answer.headers.multi_items() == slow.headers.multi_items(), name
        assert fast_answer.content == slow.content, name
        statuses.add(slow.status_code)
        if fast:
            assert slow.status_code == 200, (name, slow.text)
    assert statuses == {200, 401, 403, 404, 422}
    reasons = {
        json.loads(_send(route, key, body).content)["reason"]
        for _name, key, body, fast in corpus
        if fast
    }
    assert reasons == {
        None,
        "insufficient_funds",
        "blocked",
        "concurrency_limit",
        "no_rate",
        "invalid_number",
        "unknown_caller",
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json; charset=utf-8"},
        {"content-type": "text/plain"},
        {"authorization": "Basic eDp5"},
    ],
)
def test_other_headers_go_the_route_s_way(
    world: World, clients: tuple[TestClient, TestClient], headers: dict[str, str]
) -> None:
    lane, route = clients
    keys = Keys(world)
    body = {"caller": "+441000000001", "callee": UK}
    _send(lane, keys.reseller, body)
    answers = [_send(client, keys.reseller, body, **headers) for client in (lane, route)]
    assert answers[0].status_code == answers[1].status_code
    assert answers[0].headers.multi_items() == answers[1].headers.multi_items()
    assert answers[0].content == answers[1].content
    for url in (f"{URL}?x=1", URL + "/"):
        lane_answer = lane.post(
            url, json=body, headers={"authorization": f"Bearer {keys.reseller}"}
        )
        route_answer = route.post(
            url, json=body, headers={"authorization": f"Bearer {keys.reseller}"}
        )
        assert (lane_answer.status_code, lane_answer.content) == (
            route_answer.status_code,
            route_answer.content,
        )


def test_a_body_in_chunks_is_replayed_whole(world: World, container: Container) -> None:
    """The lane reads the whole body; what it hands over is the body, once."""
    keys = Keys(world)
    app = create_app(container)
    body = json.dumps({"caller": "+441000000001", "callee": UK, "at": None, "x": 1}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"authorization", f"Bearer {keys.reseller}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
    }
    chunks = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.request", "body": body[10:], "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(fast_lane.FastLane(app, container), scope, receive, send)
    assert sent[0]["status"] == 422  # the route's validation saw the whole body
    problem = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert problem["code"] == "invalid_input"


def test_authorize_is_decided_on_the_loop_only_when_warm(
    world: World,
    clients: tuple[TestClient, TestClient],
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On SQLite a warm authorize (caller, chain and plans cached) never takes a thread;
    a cold one (a plan to load) goes to a thread and answers the same; on PostgreSQL
    every one takes a thread (its read is a round trip)."""
    from voxbill.api.fast_lane import asgi

    lane, route = clients
    keys = Keys(world)
    body = {"caller": "+441000000001", "callee": UK}
    hops: list[int] = []
    real = asgi._threads

    class Counting:
        def submit(self, fn: Any, *args: Any) -> Any:
            hops.append(1)
            return real().submit(fn, *args)

    monkeypatch.setattr(asgi, "_threads", lambda: Counting())
    expected = _send(route, keys.reseller, body)  # loads what the lane needs
    warm_answer = _send(lane, keys.reseller, body)
    sqlite = container.db.dialect == "sqlite"
    assert hops == ([] if sqlite else [1])
    container.rating._plans.clear()  # cold: the plans must be loaded again
    cold_answer = _send(lane, keys.reseller, body)
    assert hops == ([1] if sqlite else [1, 1])
    for answer in (warm_answer, cold_answer):
        assert (answer.status_code, answer.content) == (expected.status_code, expected.content)
