"""RADIUS attribute mapping: wire attributes → charging requests, answers → attributes.

Packets are real pyrad packets over voxbill's shipped dictionary, encoded and decoded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from pyrad.packet import AccessRequest, AccountingRequest, AcctPacket, AuthPacket

from voxbill.outcomes import known_reasons, refusal_for
from voxbill.protocols.radius.attributes import (
    AcctStatus,
    accept_attributes,
    access_query,
    accounting_record,
    reject_attributes,
)
from voxbill.protocols.radius.codec import Request, decode_request, dictionary
from voxbill.services.charging.service import Authorization, CallerId

SECRET = b"s3cret"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def access(**attributes: Any) -> Request:
    packet = AuthPacket(AccessRequest, secret=SECRET, dict=dictionary())
    for name, value in attributes.items():
        if name == "User_Password":
            packet["User-Password"] = packet.PwCrypt(value)
        else:
            packet.AddAttribute(name.replace("_", "-"), value)
    packet.add_message_authenticator()
    request = decode_request(packet.RequestPacket(), SECRET, accounting=False)
    assert request is not None
    return request


def accounting(**attributes: Any) -> Request:
    packet = AcctPacket(AccountingRequest, secret=SECRET, dict=dictionary())
    for name, value in attributes.items():
        packet.AddAttribute(name.replace("_", "-"), value)
    request = decode_request(packet.RequestPacket(), SECRET, accounting=True)
    assert request is not None
    return request


def test_user_password_makes_user_name_a_card_number() -> None:
    request = access(User_Name="12345678", User_Password="4321", Called_Station_Id="+4420")
    query = access_query(request.packet, request.password)
    assert query.caller == CallerId(card="12345678", pin="4321")
    assert query.callee == "+4420"


def test_without_password_user_name_is_a_sip_user_and_calling_station_the_ani() -> None:
    request = access(
        User_Name="sip:alice@pbx.example",
        Calling_Station_Id="sip:+441000000001@10.0.0.1;user=phone",
        Called_Station_Id="tel:+442079460000",
        h323_remote_address="h323-remote-address=10.1.2.3",
    )
    query = access_query(request.packet, request.password)
    assert query.caller == CallerId(sip_user="alice", ani="+441000000001", ip="10.1.2.3")
    assert query.callee == "+442079460000"


def test_every_caller_carries_the_operator_of_the_client_that_asked() -> None:
    card = access(User_Name="12345678", User_Password="4321", Called_Station_Id="+4420")
    assert access_query(card.packet, card.password, 7).caller.operator_id == 7
    ani = access(Calling_Station_Id="+441000000001")
    assert access_query(ani.packet, None, 7).caller == CallerId(ani="+441000000001", operator_id=7)
    stop = accounting(Acct_Status_Type="Stop", Acct_Session_Id="s", User_Name="alice")
    record = accounting_record(stop.packet, received=NOW, operator_id=7)
    assert record.caller == CallerId(sip_user="alice", operator_id=7)


def test_a_missing_callee_is_empty_so_charging_refuses_it_as_an_invalid_number() -> None:
    request = access(Calling_Station_Id="+441000000001")
    assert access_query(request.packet, None).callee == ""


def test_accept_carries_session_timeout_and_cisco_credit_vsas() -> None:
    answer = Authorization(True, None, 7, 5994, D("0.1"), "USD", D("9.92"), "44", "UK")
    assert accept_attributes(answer) == [
        ("Session-Timeout", 5994),
        ("h323-credit-time", "h323-credit-time=5994"),
        ("h323-return-code", "h323-return-code=0"),
        ("h323-credit-amount", "h323-credit-amount=9.92"),
        ("h323-currency", "h323-currency=USD"),
        ("Cisco-AVPair", "voxbill-account=7"),
    ]


def test_credit_amount_is_a_plain_decimal_string_never_an_exponent() -> None:
    answer = Authorization(True, None, 7, 60, D("0.1"), "EUR", D("1E+2"), "44", "UK")
    assert ("h323-credit-amount", "h323-credit-amount=100") in accept_attributes(answer)


@pytest.mark.parametrize("reason", sorted(known_reasons()))
def test_reject_uses_the_one_refusal_table(reason: str) -> None:
    refusal = refusal_for(reason)
    assert reject_attributes(refusal) == [
        ("Reply-Message", refusal.text),
        ("h323-return-code", f"h323-return-code={refusal.h323_return_code}"),
        ("Cisco-AVPair", f"voxbill-reason={reason}"),
    ]


def test_accounting_stop_with_delay_and_timestamp() -> None:
    stamp = int(NOW.timestamp())
    request = accounting(
        Acct_Status_Type="Stop",
        Acct_Session_Id="abc",
        Acct_Session_Time=95,
        Acct_Delay_Time=5,
        Event_Timestamp=stamp,
        Calling_Station_Id="+441000000001",
        Called_Station_Id="+442079460000",
    )
    record = accounting_record(request.packet, received=NOW + timedelta(hours=1))
    assert record.status is AcctStatus.STOP
    assert (record.session_id, record.duration) == ("abc", 95)
    assert record.event_time == NOW - timedelta(seconds=5)
    assert record.caller == CallerId(ani="+441000000001")
    assert record.callee == "+442079460000"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Start", AcctStatus.START),
        ("Interim-Update", AcctStatus.INTERIM),
        ("Accounting-On", AcctStatus.ACCOUNTING_ON),
        ("Accounting-Off", AcctStatus.ACCOUNTING_OFF),
    ],
)
def test_status_types(status: str, expected: AcctStatus) -> None:
    record = accounting_record(
        accounting(Acct_Status_Type=status, Acct_Session_Id="a").packet, received=NOW
    )
    assert record.status is expected
    assert record.event_time is None
    assert record.duration == 0


def test_cisco_legs_share_one_session_by_conference_id() -> None:
    legs = [
        accounting(
            Acct_Status_Type="Start",
            Acct_Session_Id=leg,
            h323_conf_id="h323-conf-id=3D4E1E12 9C1611D6 8A93D1C2 4B3A2B31",
            h323_call_origin=f"h323-call-origin={origin}",
        )
        for leg, origin in (("0000001A", "answer"), ("0000001B", "originate"))
    ]
    keys = {accounting_record(leg.packet, received=NOW).session_id for leg in legs}
    assert keys == {"h323:3d4e1e129c1611d68a93d1c24b3a2b31"}
