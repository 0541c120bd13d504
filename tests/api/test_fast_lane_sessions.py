"""Start and update through the fast lanes answer exactly what the routes answer; stop
has no lane (issue 11) and always goes through its route.

The steps change state, so one database cannot serve both: two twin worlds (one
database each, built alike, on one fixed clock) get the same requests in the same
order, one app with the lanes and one without, and every answer must be the same
status, headers and bytes — for the plain steps the lanes take (new, replayed and
interim starts, updates) and for everything they hand over (every stop, 402, 403,
404, 409, 422, 429, a card, ``at``, a vendor, a query string, another content type, a
NUL), and session ids with ``/``, ``@`` and ``%`` (issue 10, finding
10), percent-encoded or not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from support.caches import LONG_CACHE_SECONDS
from support.charging_world import AT, UK, World, build_world
from voxbill.api.app import create_app
from voxbill.api.fast_lane import FastLane
from voxbill.bootstrap import Container, build
from voxbill.domain.access import Role
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.charging.service import CallerId
from voxbill.settings import Settings

CALLS = "/api/v1/calls"
C, BROKE, BLOCKED, BUSY = "+441000000001", "+441000000002", "+441000000003", "+441000000004"


@pytest.fixture
def container(warm_container: Container) -> Container:
    """Caches that outlive the test (conftest.warm_container): the lanes answer from warm
    caches only, and the default 2 s did not always hold on a busy machine."""
    return warm_container


@pytest.fixture
def twin(database_url: str, tmp_path: Path) -> Iterator[Container]:
    """A second migrated database of the same dialect as ``container``'s."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'twin.db'}"
        name = None
    else:
        base, _, first = database_url.rpartition("/")
        name = f"{first}_twin"
        url = f"{base}/{name}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    built = build(Settings(database_url=url, hot_cache_seconds=LONG_CACHE_SECONDS), migrate=True)
    try:
        yield built
    finally:
        built.close()
        if name is not None:
            admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


@dataclass
class Side:
    """One of the twins: its client and its keys by name."""

    client: TestClient
    keys: dict[str, str]

    def send(self, key: str | None, path: str, body: Any, **headers: str) -> Any:
        headers = {"content-type": "application/json", **headers}
        if key is not None:
            headers["authorization"] = f"Bearer {self.keys.get(key, key)}"
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(path, content=content, headers=headers, follow_redirects=False)


def _world(container: Container, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The charging world, a few callers that are refused, one fixed clock; the keys."""
    monkeypatch.setattr(container.charging, "_clock", lambda: AT)
    monkeypatch.setattr(container.ledger, "_clock", lambda: AT)
    w: World = build_world(container)
    ids = container.identifiers
    broke = w.create(w.customer, "user", "Broke", rate_plan="retail")  # own balance: 0
    ids.add(w.system, broke, IdentifierType.ANI, BROKE, None)
    blocked = w.create(w.reseller, "customer", "Blocked", rate_plan="retail")
    w.fund(blocked, "10")
    w.patch(blocked, status="blocked")
    ids.add(w.system, blocked, IdentifierType.ANI, BLOCKED, None)
    busy = w.create(w.reseller, "customer", "Busy", rate_plan="retail", max_concurrent_calls=1)
    w.fund(busy, "10")
    ids.add(w.system, busy, IdentifierType.ANI, BUSY, None)
    container.charging.start("busy-1", CallerId(ani=BUSY), UK)
    other = w.create(w.root, "reseller", "Other", rate_plan="wholesale")
    auth = container.auth
    return {
        "admin": auth.issue(w.system, w.root, Role.ADMIN).secret,
        "reseller": auth.issue(w.system, w.reseller, Role.RESELLER).secret,
        "support": auth.issue(w.system, w.root, Role.SUPPORT).secret,
        "customer": auth.issue(w.system, w.customer, Role.CUSTOMER).secret,
        "other": auth.issue(w.system, other, Role.RESELLER).secret,
    }


@pytest.fixture
def twins(
    container: Container, twin: Container, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Side, Side]]:
    """(with the lanes, over ``container``; without, over ``twin``)."""
    lane_keys, route_keys = _world(container, monkeypatch), _world(twin, monkeypatch)
    monkeypatch.setattr(twin.settings, "fast_lane", False)
    with (
        TestClient(create_app(container), raise_server_exceptions=False) as lane,
        TestClient(create_app(twin), raise_server_exceptions=False) as route,
    ):
        yield Side(lane, lane_keys), Side(route, route_keys)


def _start(sid: str, caller: Any = C, **extra: Any) -> dict[str, Any]:
    return {"session_id": sid, "caller": caller, "callee": UK, **extra}


def _corpus() -> list[tuple[str, str | None, str, Any, bool]]:
    """(name, key, path, body, answered by the lane), in order: each may depend on the
    state the ones before it left."""
    s1, s2, s3 = f"{CALLS}/s1", f"{CALLS}/s2", f"{CALLS}/s3"
    card = {"card": "12345678", "pin": "4321"}
    long_id = "x" * 200
    R, D1, FR = "reseller", {"duration": 1}, "+33142000000"
    return [
        ("start", R, CALLS, _start("s1"), True),
        ("start again: replayed", R, CALLS, _start("s1"), True),
        ("stop s1", R, f"{s1}/stop", {"duration": 61}, False),
        ("start, admin, interim", "admin", CALLS, _start("s2", interim=True), True),
        ("update", R, f"{s2}/update", {"duration": 30}, True),
        ("update, request number", R, f"{s2}/update", {"duration": 60, "request_number": 2}, True),
        ("update, same number", R, f"{s2}/update", {"duration": 90, "request_number": 2}, True),
        ("update, older usage", R, f"{s2}/update", {"duration": 10}, True),
        ("stop", R, f"{s2}/stop", {"duration": 95}, False),
        ("stop again: replayed", R, f"{s2}/stop", {"duration": 95}, False),
        ("stop, other: replay", "admin", f"{s2}/stop", {"duration": 5, "request_number": 9}, False),
        ("update after stop", R, f"{s2}/update", {"duration": 100}, False),
        ("start, sip user", R, CALLS, _start("s3", {"sip_user": "alice"}, interim=True), True),
        ("start, account id", "admin", CALLS, _start("s4", {"account_id": 3}, interim=True), True),
        ("stop, another tenant", "other", f"{s3}/stop", {"duration": 10}, False),
        ("update, another tenant", "other", f"{s3}/update", {"duration": 10}, False),
        ("stop, support key", "support", f"{s3}/stop", {"duration": 10}, False),
        ("stop, customer key", "customer", f"{s3}/stop", {"duration": 10}, False),
        ("stop, no key", None, f"{s3}/stop", {"duration": 10}, False),
        ("stop, forged key", "vbk_00000000_forged", f"{s3}/stop", {"duration": 10}, False),
        ("stop, bad duration", R, f"{s3}/stop", {"duration": -1}, False),
        ("stop, string duration", R, f"{s3}/stop", {"duration": "x"}, False),
        ("stop, extra field", R, f"{s3}/stop", {"duration": 1, "x": 1}, False),
        ("stop, not an object", R, f"{s3}/stop", [1], False),
        ("stop, bad json", R, f"{s3}/stop", b'{"duration": ', False),
        ("stop, empty body", R, f"{s3}/stop", b"", False),
        ("stop", R, f"{s3}/stop", {"duration": 33}, False),
        ("stop, unknown session", R, f"{CALLS}/nope/stop", D1, False),
        ("update, unknown session", R, f"{CALLS}/nope/update", D1, False),
        ("stop, longest session id, unknown", R, f"{CALLS}/{long_id}/stop", D1, False),
        ("stop, session id too long", R, f"{CALLS}/{long_id}x/stop", D1, False),
        ("stop, empty session id", R, f"{CALLS}//stop", D1, False),
        ("stop, NUL in the session id", R, f"{CALLS}/a%00b/stop", D1, False),
        ("stop, slash in the session id", R, f"{CALLS}/a%2Fb/stop", D1, False),
        ("stop, one segment too many", R, f"{CALLS}/a/b/stop", D1, False),
        ("stop, trailing slash", R, f"{CALLS}/s1/stop/", D1, False),
        ("stop, query string", R, f"{s1}/stop?x=1", D1, False),
        ("start, space in the id", R, CALLS, _start("a b", interim=True), True),
        ("update, percent-encoded id", R, f"{CALLS}/a%20b/update", {"duration": 7}, True),
        ("stop, percent-encoded id", R, f"{CALLS}/a%20b/stop", {"duration": 8}, False),
        ("start, a Call-ID with / and @", R, CALLS, _start("abc/def@host", interim=True), True),
        ("update, its / as %2F", R, f"{CALLS}/abc%2Fdef@host/update", {"duration": 7}, True),
        ("update, its / as is", R, f"{CALLS}/abc/def@host/update", {"duration": 9}, True),
        ("stop, all encoded", R, f"{CALLS}/abc%2Fdef%40host/stop", {"duration": 10}, False),
        ("start, a % in the id", R, CALLS, _start("50%/x", interim=True), True),
        ("stop, its % as %25", R, f"{CALLS}/50%25%2Fx/stop", {"duration": 3}, False),
        ("stop, only a slash", R, f"{CALLS}///stop", D1, False),
        ("start, longest session id", R, CALLS, _start(long_id, interim=True), True),
        ("stop, longest session id", R, f"{CALLS}/{long_id}/stop", D1, False),
        ("start, same id, another callee", R, CALLS, {**_start("s1"), "callee": FR}, False),
        ("start, insufficient funds", R, CALLS, _start("f1", BROKE), False),
        ("start, concurrency limit", R, CALLS, _start("f2", BUSY), False),
        ("start, blocked", R, CALLS, _start("f3", BLOCKED), False),
        ("start, unknown caller", R, CALLS, _start("f4", "+449999999999"), False),
        ("start, no rate", R, CALLS, {**_start("f5"), "callee": "+12125550100"}, False),
        ("start, invalid number", R, CALLS, {**_start("f6"), "callee": "abc"}, False),
        ("start, another tenant", "other", CALLS, _start("f7"), False),
        ("start, support key", "support", CALLS, _start("f8"), False),
        ("start, customer key", "customer", CALLS, _start("f9"), False),
        ("start, missing callee", R, CALLS, {"session_id": "f10", "caller": C}, False),
        ("start, session id too long", R, CALLS, _start(long_id + "x"), False),
        ("start, NUL", R, CALLS, _start("f11\x00"), False),
        ("start, at", "admin", CALLS, _start("f12", at=AT.isoformat()), False),
        ("start, at, reseller", R, CALLS, _start("f13", at=AT.isoformat()), False),
        ("start, vendor, reseller", R, CALLS, _start("f14", vendor_id=1), False),
        ("start, unknown vendor", "admin", CALLS, _start("f15", vendor_id=99999), False),
        ("start, card", R, CALLS, _start("k1", card, interim=True), False),
        ("stop, card's call", R, f"{CALLS}/k1/stop", {"duration": 12}, False),
        ("start, card, wrong pin", R, CALLS, _start("k2", {**card, "pin": "1"}), False),
        ("stop s1 again", R, f"{s1}/stop", {"duration": 61}, False),
        ("start the busy caller's second call again", R, CALLS, _start("f2", BUSY), False),
    ]  # fmt: skip


def test_the_lanes_answer_what_the_routes_answer(
    twins: tuple[Side, Side], monkeypatch: pytest.MonkeyPatch
) -> None:
    lane, route = twins
    for key in lane.keys:  # every key checked once, as a switch's are
        for side in twins:
            side.send(key, f"{CALLS}/authorize", {"caller": C, "callee": UK})
    answered: list[str] = []
    real = FastLane._answer

    raised: list[str] = []

    async def counted(self: FastLane, *args: Any) -> Any:
        try:
            response = await real(self, *args)
        except Exception as exc:  # the lane hands over; say why if it was not expected
            raised.append(repr(exc))
            raise
        if response is not None:
            answered.append("lane")
        return response

    monkeypatch.setattr(FastLane, "_answer", counted)
    statuses = set()
    for name, key, path, body, expected in _corpus():
        before, errors_before = len(answered), len(raised)
        fast = lane.send(key, path, body)
        slow = route.send(key, path, body)
        assert (fast.status_code, fast.content) == (slow.status_code, slow.content), name
        assert fast.headers.multi_items() == slow.headers.multi_items(), name
        statuses.add(slow.status_code)
        assert (len(answered) > before) is expected, (name, slow.text, raised[errors_before:])
    assert statuses == {200, 201, 307, 401, 402, 403, 404, 409, 422, 429}


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json; charset=utf-8"},
        {"content-type": "text/plain"},
        {"authorization": "Basic eDp5"},
    ],
)
def test_other_headers_go_the_route_s_way(
    twins: tuple[Side, Side], headers: dict[str, str]
) -> None:
    for side in twins:
        side.send("reseller", f"{CALLS}/authorize", {"caller": C, "callee": UK})
    steps = [
        (CALLS, _start("h1", interim=True)),
        (f"{CALLS}/h1/update", {"duration": 20}),
        (f"{CALLS}/h1/stop", {"duration": 30}),
    ]
    for path, body in steps:
        fast, slow = (side.send("reseller", path, body, **headers) for side in twins)
        assert (fast.status_code, fast.content) == (slow.status_code, slow.content), path
        assert fast.headers.multi_items() == slow.headers.multi_items(), path
