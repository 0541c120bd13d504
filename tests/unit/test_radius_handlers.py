"""The RADIUS door's decisions over a fake charging service: what is acknowledged,
what is recovered, and what is left unanswered for the NAS to retransmit."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from pyrad.packet import AccessAccept, AccessReject, AccountingRequest, AcctPacket

from voxbill.domain.errors import DatabaseBusy, NotFound
from voxbill.protocols.log_safe import printable
from voxbill.protocols.radius import card_class
from voxbill.protocols.radius.access import AccessHandler
from voxbill.protocols.radius.accounting import AccountingHandler
from voxbill.protocols.radius.clients import RadiusClient, parse_client
from voxbill.protocols.radius.codec import Request, decode_request, dictionary
from voxbill.protocols.session_scope import SessionScope
from voxbill.services.charging.service import Authorization, CallerId, ChargingRefused

SECRET = b"s3cret"
OPERATOR = 7
CLIENT = RadiusClient(parse_client("127.0.0.1=s3cret").network, SECRET, OPERATOR)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
REFUSED = Authorization(False, "insufficient_funds", 3, 0, None, None, None, None, None)


class FakeCharging:
    def __init__(self, *, refuse_start: bool = False, fail: Exception | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.sessions: set[str] = set()
        self.refuse_start = refuse_start
        self.fail = fail

    def authorize(self, caller: CallerId, callee: str, at: datetime | None = None) -> Any:
        self.calls.append(("authorize", caller, callee))
        if self.fail:
            raise self.fail
        return Authorization(True, None, 3, 120, D("0.1"), "USD", D("10"), "44", "UK")

    def start(
        self,
        session_id: str,
        caller: CallerId,
        callee: str,
        at: Any = None,
        *,
        interim: bool = False,
    ) -> Any:
        self.calls.append(("start", session_id, caller, callee, at, interim))
        if self.fail:
            raise self.fail
        if self.refuse_start:
            raise ChargingRefused(REFUSED)
        self.sessions.add(session_id)

    def update(self, session_id: str, used_seconds: int, **_: Any) -> Any:
        self.calls.append(("update", session_id, used_seconds))
        if session_id not in self.sessions:
            raise NotFound("no session", code="unknown_session")

    def stop(self, session_id: str, duration: int, **_: Any) -> Any:
        self.calls.append(("stop", session_id, duration))
        if session_id not in self.sessions:
            raise NotFound("no session", code="unknown_session")


def acct(**attributes: Any) -> Request:
    packet = AcctPacket(AccountingRequest, secret=SECRET, dict=dictionary())
    for name, value in attributes.items():
        packet.AddAttribute(name, value)
    request = decode_request(packet.RequestPacket(), SECRET, accounting=True)
    assert request is not None
    return request


CALL = {
    "Acct-Session-Id": "c1",
    "Calling-Station-Id": "+441000000001",
    "Called-Station-Id": "+442079460000",
}


def test_start_holds_the_whole_grant_then_stop_settles() -> None:
    charging = FakeCharging()
    handler = AccountingHandler(charging, clock=lambda: NOW)
    handler.record(acct(**CALL, **{"Acct-Status-Type": "Start"}), CLIENT)
    handler.record(acct(**CALL, **{"Acct-Status-Type": "Stop", "Acct-Session-Time": 40}), CLIENT)
    assert [c[0] for c in charging.calls] == ["start", "stop"]
    assert charging.calls[0][5] is False  # interim=False: the Session-Timeout is held
    assert charging.calls[1] == ("stop", "c1", 40)


def test_a_refused_start_is_acknowledged() -> None:
    charging = FakeCharging(refuse_start=True)
    AccountingHandler(charging).record(acct(**CALL, **{"Acct-Status-Type": "Start"}), CLIENT)
    assert [c[0] for c in charging.calls] == ["start"]


def test_a_stop_for_an_unknown_session_starts_it_at_the_call_start_then_stops() -> None:
    charging = FakeCharging()
    stamp = int(NOW.timestamp())
    stop = {"Acct-Status-Type": "Stop", "Acct-Session-Time": 40, "Event-Timestamp": stamp}
    AccountingHandler(charging).record(acct(**CALL, **stop), CLIENT)
    assert [c[0] for c in charging.calls] == ["stop", "start", "stop"]
    assert charging.calls[1][4] == datetime(2026, 3, 2, 11, 59, 20, tzinfo=UTC)


def test_an_interim_for_an_unknown_session_starts_it() -> None:
    charging = FakeCharging()
    interim = {"Acct-Status-Type": "Interim-Update", "Acct-Session-Time": 30}
    AccountingHandler(charging, clock=lambda: NOW).record(acct(**CALL, **interim), CLIENT)
    assert [c[0] for c in charging.calls] == ["update", "start", "update"]


def test_a_database_failure_is_not_acknowledged() -> None:
    charging = FakeCharging(fail=DatabaseBusy("lock timeout"))
    with pytest.raises(DatabaseBusy):
        AccountingHandler(charging).record(acct(**CALL, **{"Acct-Status-Type": "Start"}), CLIENT)


def test_the_card_sealed_in_class_identifies_the_accounting_caller() -> None:
    charging = FakeCharging()
    sealed = card_class.seal("12345678", "4321", SECRET)
    start = {"Acct-Status-Type": "Start", "User-Name": "12345678", "Class": sealed}
    AccountingHandler(charging).record(acct(**CALL, **start), CLIENT)
    assert charging.calls[0][2] == CallerId(
        card="12345678", pin="4321", operator_id=OPERATOR, pin_sealed=True
    )


def test_accounting_on_and_records_without_session_are_acknowledged() -> None:
    charging = FakeCharging()
    handler = AccountingHandler(charging)
    handler.record(acct(**{"Acct-Status-Type": "Accounting-On"}), CLIENT)
    handler.record(acct(**{"Acct-Status-Type": "Start"}), CLIENT)
    assert charging.calls == []


def _access_request() -> Request:
    from pyrad.packet import AccessRequest, AuthPacket

    packet = AuthPacket(AccessRequest, secret=SECRET, dict=dictionary())
    packet.AddAttribute("Calling-Station-Id", "+441000000001")
    packet.AddAttribute("Called-Station-Id", "+442079460000")
    packet.add_message_authenticator()
    request = decode_request(packet.RequestPacket(), SECRET, accounting=False)
    assert request is not None
    return request


def test_access_accept_and_internal_failure_reject() -> None:
    code, attributes = AccessHandler(FakeCharging()).answer(_access_request(), CLIENT)
    assert code == AccessAccept
    assert ("Session-Timeout", 120) in attributes
    failing = FakeCharging(fail=RuntimeError("database gone"))
    code, attributes = AccessHandler(failing).answer(_access_request(), CLIENT)
    assert code == AccessReject
    assert ("h323-return-code", "h323-return-code=8") in attributes
    assert ("Reply-Message", "internal error") in attributes


def test_the_caller_of_an_access_request_carries_the_client_operator() -> None:
    charging = FakeCharging()
    AccessHandler(charging).answer(_access_request(), CLIENT)
    assert charging.calls[0][1] == CallerId(ani="+441000000001", operator_id=OPERATOR)


def test_a_stop_for_another_operators_session_is_acknowledged_and_changes_nothing() -> None:
    """A client of operator 7 names a session of operator 8 (its Acct-Session-Id is all
    charging knows it by): nothing is updated or stopped, nothing is started late."""
    charging = FakeCharging()
    charging.sessions.add("c1")
    scope = SessionScope(lambda s: 42 if s == "c1" else None, lambda op, account: op == 8)
    handler = AccountingHandler(charging, scope=scope)
    handler.record(acct(**CALL, **{"Acct-Status-Type": "Interim-Update"}), CLIENT)
    handler.record(acct(**CALL, **{"Acct-Status-Type": "Stop", "Acct-Session-Time": 9}), CLIENT)
    assert charging.calls == []
    other = {**CALL, "Acct-Session-Id": "c2"}  # an unknown session: the client's own to start
    handler.record(acct(**other, **{"Acct-Status-Type": "Stop", "Acct-Session-Time": 9}), CLIENT)
    assert [c[0] for c in charging.calls] == ["stop", "start", "stop"]


def test_a_session_started_through_the_client_is_its_own_without_asking() -> None:
    asked: list[str] = []

    def session_account(session_id: str) -> int | None:
        asked.append(session_id)
        return 42

    charging = FakeCharging()
    handler = AccountingHandler(charging, scope=SessionScope(session_account, lambda *_: False))
    handler.record(acct(**CALL, **{"Acct-Status-Type": "Start"}), CLIENT)
    handler.record(acct(**CALL, **{"Acct-Status-Type": "Stop", "Acct-Session-Time": 9}), CLIENT)
    assert [c[0] for c in charging.calls] == ["start", "stop"]
    assert asked == []  # remembered at the start: no read


def test_wire_values_in_log_lines_are_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """Finding 19: an Acct-Session-Id with a newline forged a second log line."""
    forged = "c9\nCRITICAL voxbill: ledger verify failed\r\x1b[2J"
    charging = FakeCharging(refuse_start=True)
    with caplog.at_level("WARNING"):
        AccountingHandler(charging).record(
            acct(**{**CALL, "Acct-Session-Id": forged, "Acct-Status-Type": "Start"}), CLIENT
        )
    (line,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in line
    assert "\r" not in line
    assert "\x1b" not in line
    assert "c9\\nCRITICAL voxbill" in line


def test_printable_escapes_every_line_breaker_and_bounds_the_value() -> None:
    assert printable("a\nb\rc\x1bd\u2028e\u0085f\tg") == "a\\nb\\rc\\x1bd\\u2028e\\x85f\\tg"
    assert printable("plain value") == "plain value"
    assert printable("x" * 500) == "x" * 200 + "..."
    assert printable("\n" * 500, limit=3) == "\\n\\n\\n..."
