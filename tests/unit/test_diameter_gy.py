"""Gy handling against a fake charging service: usage deltas, retransmissions, refusals."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from support.diameter_fakes import NOW, FakeCharging
from voxbill.domain.access import Principal
from voxbill.domain.sms import segment
from voxbill.protocols.diameter.gy import GyHandler, message_body
from voxbill.protocols.diameter.requests import GyRequest, RequestType
from voxbill.protocols.diameter.sessions import SessionBook
from voxbill.protocols.session_scope import SessionScope
from voxbill.services.charging.service import CallerId


def request(kind: RequestType, number: int, used: int = 0, **extra: Any) -> GyRequest:
    values: dict[str, Any] = {"caller": CallerId(ani="441000000001"), "callee": "+4420"}
    return GyRequest("s;1", kind, number, used_seconds=used, **(values | extra))


def handler(charging: FakeCharging, **kw: Any) -> GyHandler:
    return GyHandler(charging, clock=lambda: NOW, **kw)


def test_a_session_reports_deltas_and_stops_at_their_sum() -> None:
    charging = FakeCharging()
    gy = handler(charging)
    first = gy.handle(request(RequestType.INITIAL, 0))
    assert (first.result_code, first.granted_seconds, first.validity_time) == (2001, 300, 360)
    assert not first.final
    gy.handle(request(RequestType.UPDATE, 1, used=300))
    gy.handle(request(RequestType.UPDATE, 2, used=280))
    end = gy.handle(request(RequestType.TERMINATION, 3, used=45))
    assert [call[2] for call in charging.calls[1:]] == [300, 580, 625]
    assert [call[3] for call in charging.calls[1:]] == [1, 2, 3]
    assert end.cost == Decimal("0.01") + Decimal(625) * Decimal("0.1") / 60


def test_retransmitted_updates_and_terminations_reach_charging_once() -> None:
    charging = FakeCharging()
    gy = handler(charging)
    gy.handle(request(RequestType.INITIAL, 0))
    answer = gy.handle(request(RequestType.UPDATE, 1, used=300))
    assert gy.handle(request(RequestType.UPDATE, 1, used=300)) == answer
    gy.handle(request(RequestType.TERMINATION, 2, used=10))
    gy.handle(request(RequestType.TERMINATION, 2, used=10))
    assert [c[0] for c in charging.calls] == ["start", "update", "stop"]
    assert charging.calls[-1][2] == 310


def test_a_report_older_than_the_last_counted_adds_nothing() -> None:
    charging = FakeCharging()
    gy = handler(charging)
    gy.handle(request(RequestType.INITIAL, 0))
    gy.handle(request(RequestType.UPDATE, 2, used=300))
    gy.book = SessionBook()  # answers forgotten (cache evicted, or another node)
    gy.handle(request(RequestType.UPDATE, 1, used=300))  # … the old report does not add
    assert charging.calls[-1][2] == 300


def test_the_last_grant_carries_final_and_no_credit_left_is_4012() -> None:
    charging = FakeCharging(limit=500)
    gy = handler(charging)
    gy.handle(request(RequestType.INITIAL, 0))
    last = gy.handle(request(RequestType.UPDATE, 1, used=300))
    assert (last.granted_seconds, last.final) == (200, True)
    out = gy.handle(request(RequestType.UPDATE, 2, used=200))
    assert (out.result_code, out.granted_seconds) == (4012, None)


def test_refusals_map_through_the_shared_table() -> None:
    for reason, code in (
        ("unknown_caller", 5030),
        ("insufficient_funds", 4012),
        ("no_rate", 5031),
        ("blocked", 4010),
        ("database_busy", 3004),
    ):
        result = handler(FakeCharging(refuse=reason)).handle(request(RequestType.INITIAL, 0))
        assert (result.result_code, result.error_message) == (code, reason)


def test_any_node_answers_any_request_the_usage_lives_in_charging() -> None:
    charging = FakeCharging()
    handler(charging).handle(request(RequestType.INITIAL, 0))
    other = handler(charging)  # a second node: nothing of the session in its memory
    assert other.handle(request(RequestType.UPDATE, 1, used=300)).result_code == 2001
    end = handler(charging).handle(request(RequestType.TERMINATION, 2, used=20))
    assert (end.result_code, charging.calls[-1][2]) == (2001, 320)


def test_events_without_a_messaging_operator_are_refused_and_bodies_have_n_segments() -> None:
    result = handler(FakeCharging()).handle(request(RequestType.EVENT, 0, requested_units=2))
    assert result.result_code == 5012
    assert [segment(message_body(n)).segments for n in (1, 2, 5)] == [1, 2, 5]


def test_every_request_is_handled_for_the_peers_operator() -> None:
    charging = FakeCharging()
    handler(charging).handle(request(RequestType.INITIAL, 0), 7)
    assert charging.calls[0][2] == CallerId(ani="441000000001", operator_id=7)


def test_another_operators_session_is_unknown_and_untouched() -> None:
    """Session ids are the switch's: a peer of operator 7 naming operator 8's session
    gets 5002, as for a session that does not exist, and charging is not called."""
    charging = FakeCharging()
    scope = SessionScope(lambda session: 42, lambda operator, account: operator == 8)
    gy = handler(charging, scope=scope)
    gy.handle(request(RequestType.INITIAL, 0), 8)
    for kind, number in ((RequestType.UPDATE, 1), (RequestType.TERMINATION, 2)):
        result = gy.handle(request(kind, number, used=300), 7)
        assert (result.result_code, result.error_message) == (5002, "unknown_session")
    assert [call[0] for call in charging.calls] == ["start"]
    assert gy.handle(request(RequestType.UPDATE, 1, used=300), 8).result_code == 2001


def test_a_session_started_by_the_peer_is_its_own_without_asking() -> None:
    asked: list[str] = []

    def session_account(session_id: str) -> int | None:
        asked.append(session_id)
        return 42

    gy = handler(FakeCharging(), scope=SessionScope(session_account, lambda *_: False))
    gy.handle(request(RequestType.INITIAL, 0), 7)
    assert gy.handle(request(RequestType.UPDATE, 1, used=300), 7).result_code == 2001
    assert asked == []


def test_an_answer_remembered_for_one_operator_is_not_replayed_to_another() -> None:
    charging = FakeCharging()
    gy = handler(charging)
    first = gy.handle(request(RequestType.INITIAL, 0), 7)
    assert gy.handle(request(RequestType.INITIAL, 0), 7) == first  # a retransmission
    charging.refuse = "unknown_caller"
    other = gy.handle(request(RequestType.INITIAL, 0), 8)  # reaches charging, as 8
    assert other.result_code == 5030
    assert [call[2].operator_id for call in charging.calls] == [7, 8]


class FakeMessaging:
    def __init__(self) -> None:
        self.principals: list[Principal] = []

    def send(self, principal: Principal, request: Any) -> Any:
        self.principals.append(principal)
        return SimpleNamespace(segments=1, cost=Decimal("0.05"), currency="USD")


def test_events_are_sent_as_the_peers_operator() -> None:
    messaging = FakeMessaging()
    gy = GyHandler(FakeCharging(), messaging, clock=lambda: NOW)  # type: ignore[arg-type]
    event = request(RequestType.EVENT, 0, requested_units=1)
    assert gy.handle(event, 7).result_code == 2001
    assert [(p.account_id, p.path) for p in messaging.principals] == [(7, "/7/")]
