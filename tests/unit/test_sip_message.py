"""The SIP parser and response builder: RFC 3261 shapes, strictness, and fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxbill.protocols.sip import response
from voxbill.protocols.sip.message import (
    SipParseError,
    address_uri,
    frame,
    parse_request,
    uri_user,
)

INVITE = (
    b"INVITE sip:+442079460000@voxbill.example;user=phone SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-top;rport\r\n"
    b"v: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-second\r\n"
    b'From: "Alice" <sip:alice@10.0.0.1>;tag=a1\r\n'
    b"To: <sip:+442079460000@voxbill.example>\r\n"
    b"Call-ID: call-1@10.0.0.1\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"P-Asserted-Identity: <sip:+441000000001@10.0.0.1>\r\n"
    b"Subject: folded\r\n  continuation\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n\r\nv=0\n"
)


def test_an_invite_is_read_with_callee_caller_and_transaction_key() -> None:
    request = parse_request(INVITE)
    assert request.method == "INVITE"
    assert request.callee == "+442079460000"
    assert request.caller == "+441000000001"  # P-Asserted-Identity wins over From
    assert request.from_user == "alice"
    assert request.call_id == "call-1@10.0.0.1"
    assert request.cseq == (7, "INVITE")
    assert request.branch == "z9hG4bK-top"
    assert len(request.values("via")) == 2  # compact "v" read as Via
    assert request.first("subject") == "folded continuation"
    assert request.body == b"v=0\n"


def test_a_response_copies_every_via_in_order_and_tags_to() -> None:
    request = parse_request(INVITE)
    data = response.build(request, 302, "Moved Temporarily", [("X-A", "1")], source=("1.2.3.4", 9))
    text = data.decode()
    lines = text.split("\r\n")
    assert lines[0] == "SIP/2.0 302 Moved Temporarily"
    assert lines[1] == "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-top;received=1.2.3.4;rport=9"
    assert lines[2] == "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-second"
    assert f"To: <sip:+442079460000@voxbill.example>;tag={response.to_tag(request)}" in lines
    assert 'From: "Alice" <sip:alice@10.0.0.1>;tag=a1' in lines
    assert "CSeq: 7 INVITE" in lines
    assert "Call-ID: call-1@10.0.0.1" in lines
    assert text.endswith("X-A: 1\r\nContent-Length: 0\r\n\r\n")
    assert data == response.build(
        request, 302, "Moved Temporarily", [("X-A", "1")], source=("1.2.3.4", 9)
    )


def test_uri_and_address_forms() -> None:
    assert address_uri('"A" <sip:1@h>;tag=x') == "sip:1@h"
    assert address_uri("sip:1@h;tag=x") == "sip:1@h"
    assert uri_user("sip:+33 1@h") == "+33 1"
    assert uri_user("tel:+4420;npdi") == "+4420"
    assert uri_user("sip:host.example") == ""
    assert uri_user("http://x") == ""


@pytest.mark.parametrize(
    ("data", "answerable"),
    [
        (b"", False),
        (b"\r\n\r\n", False),
        # a response is never answered (two servers would answer each other forever)
        (b"SIP/2.0 200 OK\r\nVia: x\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\n\r\n", False),
        (INVITE.replace(b"CSeq: 7 INVITE", b"CSeq: 7 BYE"), True),
        (INVITE.replace(b"CSeq: 7 INVITE", b"CSeq: x INVITE"), True),
        (INVITE.replace(b"Call-ID: call-1@10.0.0.1\r\n", b""), False),
        (INVITE.replace(b"From:", b"From;"), True),
        (INVITE.replace(b"Alice", b"\xff\xfe"), False),  # not UTF-8 in From: not copied
        (INVITE.replace(b"folded", b"\xff\xfe"), True),  # elsewhere: 400 without it
        (INVITE.replace(b"Content-Length: 4", b"Content-Length: 400"), True),
        (INVITE.replace(b"INVITE sip", b"INVITE  sip"), True),
        (
            INVITE.replace(b"CSeq: 7 INVITE", b"CSeq: 7 ACK").replace(b"INVITE sip", b"ACK sip"),
            None,
        ),
    ],
)
def test_malformed_requests_are_refused_with_or_without_an_answer(
    data: bytes, answerable: bool | None
) -> None:
    if answerable is None:  # a well-formed ACK parses; it is absorbed by the server
        assert parse_request(data).method == "ACK"
        return
    with pytest.raises(SipParseError) as caught:
        parse_request(data)
    assert caught.value.answerable is answerable


def test_tcp_framing_by_content_length() -> None:
    second = INVITE.replace(b"call-1", b"call-2")
    buffer = bytearray(b"\r\n\r\n" + INVITE + second[:50])
    assert frame(buffer) == INVITE
    assert frame(buffer) is None
    buffer += second[50:]
    assert frame(buffer) == second
    assert buffer == bytearray()
    with pytest.raises(SipParseError):
        frame(bytearray(INVITE.replace(b"Content-Length: 4\r\n", b"")))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        parse_request(data)
    with contextlib.suppress(SipParseError):
        frame(bytearray(data))


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_invites_parse_or_fail_cleanly(data: st.DataObject) -> None:
    message = bytearray(INVITE)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(message) - 1))
        action = data.draw(st.sampled_from(["flip", "drop", "insert"]))
        byte = data.draw(st.sampled_from(list(b'\r\n :;<>@\x00\xff"=,') + [65]))
        if action == "flip":
            message[at] = byte
        elif action == "drop":
            del message[at]
        else:
            message.insert(at, byte)
    try:
        request = parse_request(bytes(message))
    except SipParseError as error:
        if error.answerable and error.partial is not None:
            response.build(error.partial, 400, "Bad Request")
        return
    request.callee, request.caller, request.branch, request.cseq  # noqa: B018
    response.build(request, 302, "Moved Temporarily", [("Contact", "<sip:1@h>")])
