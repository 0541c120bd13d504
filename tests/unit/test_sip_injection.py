"""SIP header injection (issue 10, finding 1): no line break from the wire reaches a response.

The attack: a ``From`` holding a bare LF and ``Contact: <sip:premium@attacker>``. voxbill
cut lines at CRLF only and copied From byte for byte into its 302, where Kamailio (which
also ends a line at a bare LF) read an extra route and forked the call to it. Now a
bare CR, a bare LF or any other control character but HTAB in a line refuses the request:
with no answer at all when the line is one a response copies (Via, From, To, Call-ID,
CSeq), else with a 400 made of the clean lines only. The response builder strips every
control character from whatever it is given (defence in depth).

Parser and builder directly, the server's ``handle``, and a real UDP socket.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator

import pytest

from voxbill.protocols.sip import response
from voxbill.protocols.sip.door import Answer, RedirectDoor
from voxbill.protocols.sip.message import SipParseError, SipRequest, parse_request
from voxbill.protocols.sip.running import SipThread
from voxbill.protocols.sip.server import SipServer

ATTACK = "Contact: <sip:premium@attacker.example>"
SOURCE = ("127.0.0.1", 5099)


def invite(**lines: str) -> bytes:
    """An INVITE whose header lines may be replaced (``From="..."``, ``Call_ID=...``)."""
    heads = {
        "Via": "SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-1",
        "From": "<sip:441000000001@127.0.0.1>;tag=f",
        "To": "<sip:442079460000@127.0.0.1>",
        "Call-ID": "inject-1",
        "CSeq": "1 INVITE",
        "Subject": "hello",
        "Max-Forwards": "70",
    }
    heads.update({name.replace("_", "-"): value for name, value in lines.items()})
    text = "INVITE sip:442079460000@127.0.0.1 SIP/2.0\r\n"
    text += "".join(f"{name}: {value}\r\n" for name, value in heads.items())
    return (text + "Content-Length: 0\r\n\r\n").encode()


BREAKS = {"bare LF": "\n", "bare CR": "\r", "NUL": "\x00", "ESC": "\x1b", "VT": "\x0b"}
ECHOED = {
    "From": "<sip:441000000001@127.0.0.1>;tag=f",
    "To": "<sip:442079460000@127.0.0.1>",
    "Call-ID": "inject-1",
    "Via": "SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-1",
    "CSeq": "1 INVITE",
}


def clean_lines(data: bytes) -> list[bytes]:
    """The response's lines; fails if any holds a control character (a bare CR or LF)."""
    head, _, _ = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for line in lines:
        assert not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", line), line
    return lines


class RouteDoor(RedirectDoor):
    """Answers every INVITE with one route; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def invite(self, request: SipRequest, source_ip: str, operator_id: int | None = None) -> Answer:
        self.calls.append(request.call_id)
        return Answer(302, "Moved Temporarily", (("Contact", "<sip:1@10.0.0.1>;q=1.0"),))


@pytest.mark.parametrize("header", list(ECHOED))
@pytest.mark.parametrize("kind", list(BREAKS))
def test_a_control_character_in_a_copied_header_gets_no_answer(header: str, kind: str) -> None:
    tainted = ECHOED[header] + BREAKS[kind] + ATTACK
    with pytest.raises(SipParseError) as caught:
        parse_request(invite(**{header.replace("-", "_"): tainted}))
    assert not caught.value.answerable  # it cannot be copied, so nothing is sent

    async def scenario() -> bytes | None:
        door = RouteDoor()
        server = SipServer(door)
        try:
            return await server.handle(invite(**{header.replace("-", "_"): tainted}), SOURCE)
        finally:
            await server.stop()
            assert door.calls == []  # never decided, so nothing is held either

    assert asyncio.run(scenario()) is None


@pytest.mark.parametrize("kind", list(BREAKS))
def test_a_control_character_elsewhere_gets_a_400_made_of_the_clean_lines(kind: str) -> None:
    data = invite(Subject="hi" + BREAKS[kind] + ATTACK)
    with pytest.raises(SipParseError) as caught:
        parse_request(data)
    assert caught.value.answerable
    assert caught.value.partial is not None
    answer = response.build(caught.value.partial, 400, "Bad Request")
    lines = clean_lines(answer)
    assert lines[0] == b"SIP/2.0 400 Bad Request"
    assert b"premium" not in answer
    assert b"Subject" not in answer
    assert b"From: <sip:441000000001@127.0.0.1>;tag=f" in lines


def test_a_control_character_in_the_request_line_or_a_header_name_is_refused() -> None:
    line = invite().replace(b"@127.0.0.1 SIP/2.0", b"@127.0.0.1\nEVIL: 1 SIP/2.0", 1)
    with pytest.raises(SipParseError) as caught:
        parse_request(line)
    assert caught.value.answerable
    assert caught.value.partial is not None
    assert b"EVIL" not in response.build(caught.value.partial, 400, "Bad Request")
    for name in (b"From\x00", b"Fr\nom", b"\rFrom"):
        with pytest.raises(SipParseError) as refused:
            parse_request(invite().replace(b"From", name, 1))
        assert not refused.value.answerable  # a copied header's line: no answer


def test_folding_and_htab_stay_legal() -> None:
    data = invite(Subject="a\tb").replace(b"Subject: a\tb\r\n", b"Subject: a\tb\r\n\t c\r\n")
    assert parse_request(data).first("subject") == "a\tb c"


def test_the_builder_never_emits_a_line_break_from_any_value() -> None:
    hand_made = SipRequest(
        "INVITE",
        "sip:1@h",
        [
            ("via", "SIP/2.0/UDP h;branch=z9hG4bK-2\r\n" + ATTACK),
            ("from", "<sip:a@h>;tag=1\n" + ATTACK),
            ("to", "<sip:b@h>\r" + ATTACK),
            ("call-id", "x\r\n\r\nINVITE sip:evil SIP/2.0"),
            ("cseq", "1 INVITE\x00"),
        ],
    )
    extras = [
        ("Contact", "<sip:9#1@vendor.example>\r\n" + ATTACK),
        ("X-Voxbill-Account", "7\n" + ATTACK),
        ("X-Voxbill-Balance", "1.5\r"),
    ]
    data = response.build(hand_made, 302, "Moved Temporarily", extras)
    lines = clean_lines(data)
    assert data.count(b"\r\n\r\n") == 1
    assert data.endswith(b"\r\n\r\n")
    contacts = [line for line in lines if line.lower().startswith(b"contact:")]
    assert contacts == [b"Contact: <sip:9#1@vendor.example>" + ATTACK.encode()]
    names = [line.split(b":", 1)[0] for line in lines[1:]]
    assert names == [
        b"Via",
        b"From",
        b"To",
        b"Call-ID",
        b"CSeq",
        b"Server",
        b"Contact",
        b"X-Voxbill-Account",
        b"X-Voxbill-Balance",
        b"Content-Length",
    ]


def test_a_clean_request_costs_no_stripping() -> None:
    request = parse_request(invite())
    assert response.build(request, 200, "OK") == response.build(request, 200, "OK")
    assert b"\r\n".join(clean_lines(response.build(request, 200, "OK")))


# -- through a real UDP socket -------------------------------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[SipThread, RouteDoor]]:
    door = RouteDoor()
    # one decision at a time, in arrival order: an INVITE probe sent after an INVITE is
    # answered after it (see ``exchange``)
    thread = SipThread(SipServer(door, port=0, workers=1)).start()
    yield thread, door
    thread.stop()


def exchange(port: int, attack: bytes, probe_call: str) -> list[bytes]:
    """Send ``attack`` then a clean INVITE probe from one socket; every datagram received
    before the probe's answer. The server reads datagrams in arrival order and decides
    INVITEs one at a time in that order (one worker), so an answer to the attack, if
    any, comes first. The deadline only proves that the server did not hang."""
    probe = invite(Call_ID=probe_call)
    received: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        sock.sendto(attack, ("127.0.0.1", port))
        sock.sendto(probe, ("127.0.0.1", port))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            data = sock.recv(65535)
            received.append(data)
            if f"Call-ID: {probe_call}".encode() in data:
                return received[:-1]
    raise AssertionError(f"no answer to the probe: {received!r}")


@pytest.mark.parametrize("header", ["From", "To", "Call-ID", "Via"])
@pytest.mark.parametrize("kind", ["bare LF", "bare CR"])
def test_over_udp_a_tainted_copied_header_is_dropped(
    live: tuple[SipThread, RouteDoor], header: str, kind: str
) -> None:
    thread, door = live
    call = f"udp-{header}-{kind.replace(' ', '')}"
    values = {"Call_ID": call, header.replace("-", "_"): ECHOED[header] + BREAKS[kind] + ATTACK}
    if header == "Call-ID":
        values["Call_ID"] = call + BREAKS[kind] + ATTACK
    before = list(door.calls)
    assert exchange(thread.server.port, invite(**values), f"probe-{call}") == []
    assert door.calls == [*before, f"probe-{call}"]  # the attack never reached the door


def test_over_udp_a_tainted_other_header_gets_a_clean_400(
    live: tuple[SipThread, RouteDoor],
) -> None:
    thread, _ = live
    attack = invite(Call_ID="udp-subject", Subject="x\n" + ATTACK)
    answers = exchange(thread.server.port, attack, "probe-subject")
    assert len(answers) == 1
    lines = clean_lines(answers[0])
    assert lines[0] == b"SIP/2.0 400 Bad Request"
    assert b"premium" not in answers[0]


def test_over_udp_the_same_invite_clean_gets_its_302(live: tuple[SipThread, RouteDoor]) -> None:
    thread, _ = live
    answers = exchange(thread.server.port, invite(Call_ID="udp-clean"), "probe-clean")
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"SIP/2.0 302 Moved Temporarily"]
    assert [line for line in clean_lines(answers[0]) if line.startswith(b"Contact")] == [
        b"Contact: <sip:1@10.0.0.1>;q=1.0"
    ]
