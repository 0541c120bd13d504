"""Hostile bytes never stop the Diameter door: hypothesis feeds a connection random and
mutated frames (over an in-memory stream, with a fake charging service); no exception
escapes, and a valid DWR is answered afterwards."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from diameter.message import Avp, Message, MessageHeader
from diameter.message import constants as c
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.diameter_fakes import FakeCharging
from voxbill.protocols.diameter.gy import GyHandler
from voxbill.protocols.diameter.options import DiameterOptions
from voxbill.protocols.diameter.peer import Door, PeerState
from voxbill.protocols.diameter.server import _Connection
from voxbill.protocols.diameter.wire import Frame, check_header

_EXECUTOR = ThreadPoolExecutor(2)


def request(code: int, avps: list[Avp], app: int = 0, hop: int = 1) -> bytes:
    header = MessageHeader(command_flags=0x80, command_code=code, application_id=app)
    header.hop_by_hop_identifier = header.end_to_end_identifier = hop
    return Message(header, avps).as_bytes()


def origin() -> list[Avp]:
    return [
        Avp.new(c.AVP_ORIGIN_HOST, value=b"client.example"),
        Avp.new(c.AVP_ORIGIN_REALM, value=b"example"),
    ]


CER = request(257, [*origin(), Avp.new(c.AVP_AUTH_APPLICATION_ID, value=4)])
DWR = request(280, origin(), hop=99)
CCR_I = request(
    272,
    [
        Avp.new(c.AVP_SESSION_ID, value="client;1;1"),
        *origin(),
        Avp.new(c.AVP_DESTINATION_REALM, value=b"localdomain"),
        Avp.new(c.AVP_AUTH_APPLICATION_ID, value=4),
        Avp.new(c.AVP_CC_REQUEST_TYPE, value=1),
        Avp.new(c.AVP_CC_REQUEST_NUMBER, value=0),
        Avp.new(
            c.AVP_SUBSCRIPTION_ID,
            value=[
                Avp.new(c.AVP_SUBSCRIPTION_ID_TYPE, value=0),
                Avp.new(c.AVP_SUBSCRIPTION_ID_DATA, value="441000000001"),
            ],
        ),
        Avp.new(c.AVP_CALLED_STATION_ID, value="+442079460000"),
        Avp.new(c.AVP_USED_SERVICE_UNIT, value=[Avp.new(c.AVP_CC_TIME, value=0)]),
    ],
    app=4,
    hop=7,
)


class MemoryWriter:
    def __init__(self) -> None:
        self.data = bytearray()

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 3868) if name == "sockname" else None

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None


def converse(*chunks: bytes, options: DiameterOptions | None = None) -> list[Any]:
    """Run one connection over ``chunks``; the answers it wrote, decoded."""

    async def run() -> bytes:
        door = Door(options or DiameterOptions(), GyHandler(FakeCharging()), _EXECUTOR)
        reader = asyncio.StreamReader()
        for chunk in chunks:
            reader.feed_data(chunk)
        reader.feed_eof()
        writer = MemoryWriter()
        await _Connection(door, reader, writer).run()  # type: ignore[arg-type]
        return bytes(writer.data)

    data = asyncio.run(run())
    answers = []
    while data:
        length = int.from_bytes(data[1:4], "big")
        answers.append(Message.from_bytes(data[:length]))
        data = data[length:]
    return answers


def dwa_answered(answers: list[Any]) -> bool:
    return any(a.header.command_code == 280 and a.result_code == 2001 for a in answers)


def test_a_healthy_conversation() -> None:
    answers = {a.header.command_code: a for a in converse(CER, CCR_I, DWR)}
    cea, cca, dwa = answers[257], answers[272], answers[280]  # CCAs may overtake DWAs
    assert (cea.result_code, cea.auth_application_id, cea.product_name) == (2001, [4], "voxbill")
    assert (cca.result_code, cca.granted_service_unit.cc_time) == (2001, 300)
    assert dwa.result_code == 2001


def test_cer_without_gy_is_5010_and_requests_before_cer_are_3010() -> None:
    cer = request(257, [*origin(), Avp.new(c.AVP_AUTH_APPLICATION_ID, value=16777238)])
    (cea,) = converse(cer, DWR)
    assert cea.result_code == 5010
    (early,) = converse(DWR)
    assert (early.result_code, early.header.is_error) == (3010, True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.binary(max_size=300))
def test_random_bytes_never_escape_and_a_new_connection_still_gets_its_dwa(garbage: bytes) -> None:
    converse(CER, garbage)
    converse(garbage)
    assert dwa_answered(converse(CER, DWR))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_ccrs_are_answered_and_the_connection_keeps_serving(data: st.DataObject) -> None:
    body = bytearray(CCR_I[20:])
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(0, len(body) - 1))
        body[where] = data.draw(st.integers(0, 255))
    mutated = CCR_I[:20] + bytes(body)
    answers = converse(CER, mutated, DWR)
    assert dwa_answered(answers)
    ccas = [a for a in answers if a.header.command_code == 272]
    assert len(ccas) == 1  # every mutated request got exactly one answer


def test_a_header_with_an_impossible_length_is_answered_5015_then_closed() -> None:
    broken = bytearray(DWR)
    broken[1:4] = (13).to_bytes(3, "big")
    answers = converse(CER, bytes(broken), DWR)
    assert [a.result_code for a in answers] == [2001, 5015]
    assert check_header(DWR[:20]).length == len(DWR)


def test_a_stray_answer_is_ignored() -> None:
    state = PeerState(Door(DiameterOptions(), GyHandler(FakeCharging()), _EXECUTOR), "::1")
    answer = bytearray(DWR)
    answer[4] = 0
    reply = asyncio.run(state.answer(Frame(bytes(answer), check_header(bytes(answer[:20])))))
    assert reply.data is None


def test_a_cer_from_an_origin_host_not_listed_is_3010_and_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Finding 14 (Origin-Host), and 19: the host named in the log line is escaped."""
    options = DiameterOptions(peer_hosts=frozenset({"client.example"}))
    assert dwa_answered(converse(CER, DWR, options=options))
    forged = b"evil.example\nINFO voxbill: all good"
    cer = request(
        257,
        [
            Avp.new(c.AVP_ORIGIN_HOST, value=forged),
            Avp.new(c.AVP_ORIGIN_REALM, value=b"example"),
            Avp.new(c.AVP_AUTH_APPLICATION_ID, value=4),
        ],
    )
    with caplog.at_level("WARNING"):
        answers = converse(cer, DWR, options=options)
    (cea,) = answers  # the DWR after it is never read: the connection closed
    assert (cea.header.command_code, cea.result_code, cea.header.is_error) == (257, 3010, True)
    (line,) = [record.getMessage() for record in caplog.records]
    assert "\n" not in line
    assert "evil.example\\nINFO voxbill" in line
