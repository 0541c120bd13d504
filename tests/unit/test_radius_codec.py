"""RADIUS wire checks: request authentication (a wrong secret drops the packet, an
Access-Request must carry a Message-Authenticator unless its client may omit it),
signed replies, the card Class token and the reply cache."""

from __future__ import annotations

import pytest
from pyrad.packet import (
    AccessAccept,
    AccessRequest,
    AccountingRequest,
    AcctPacket,
    AuthPacket,
)

from voxbill.protocols.radius import card_class
from voxbill.protocols.radius.codec import (
    attribute_count,
    decode_request,
    dictionary,
    encode_reply,
    unsigned_access_request,
)
from voxbill.protocols.radius.replies import IN_FLIGHT, ReplyCache

SECRET = b"s3cret"


def _access(secret: bytes, *, password: str | None = "4321", signed: bool = False) -> bytes:
    packet = AuthPacket(AccessRequest, secret=secret, dict=dictionary())
    packet.AddAttribute("User-Name", "12345678")
    if password is not None:
        packet["User-Password"] = packet.PwCrypt(password)
    if signed:
        packet.add_message_authenticator()
    data: bytes = packet.RequestPacket()
    return data


def _accounting(secret: bytes, *, signed: bool = False) -> bytes:
    packet = AcctPacket(AccountingRequest, secret=secret, dict=dictionary())
    packet.AddAttribute("Acct-Status-Type", "Start")
    packet.AddAttribute("Acct-Session-Id", "s1")
    if signed:
        packet.add_message_authenticator()
    data: bytes = packet.RequestPacket()
    return data


def test_the_right_secret_reveals_the_password() -> None:
    request = decode_request(_access(SECRET, signed=True), SECRET, accounting=False)
    assert request is not None
    assert request.password == "4321"
    assert request.signed


def test_an_access_request_without_message_authenticator_is_dropped_unless_allowed() -> None:
    """Finding 9: no Message-Authenticator and no User-Password proves nothing about the
    secret; such a request signed with any secret was answered with a balance."""
    forged = _access(b"any secret at all", password=None)
    assert unsigned_access_request(forged)
    assert decode_request(forged, SECRET, accounting=False) is None
    # a client listed in VOXBILL_RADIUS_UNSIGNED_CLIENTS may omit it (at that risk)
    legacy = decode_request(forged, SECRET, accounting=False, require_signature=False)
    assert legacy is not None
    assert not legacy.signed
    # with a password, a wrong secret still fails where the password does not decode
    assert decode_request(_access(SECRET), SECRET, accounting=False) is None
    assert decode_request(_access(SECRET), SECRET, accounting=False, require_signature=False)
    assert not unsigned_access_request(_access(SECRET, signed=True))


def test_two_message_authenticators_are_dropped() -> None:
    data = bytearray(_access(SECRET, password=None, signed=True))
    first = data[20:38]  # add_message_authenticator puts it first
    assert first[0] == 80
    twice = bytes(data[:20] + first + data[20:])
    twice = twice[:2] + len(twice).to_bytes(2, "big") + twice[4:]
    assert attribute_count(twice, 80) == 2
    assert decode_request(twice, SECRET, accounting=False) is None


def test_replies_to_access_requests_are_signed_even_when_the_request_was_not() -> None:
    packet = AuthPacket(AccessRequest, secret=SECRET, dict=dictionary())
    packet.AddAttribute("User-Name", "alice")
    request = decode_request(
        packet.RequestPacket(), SECRET, accounting=False, require_signature=False
    )
    assert request is not None
    raw = encode_reply(request, AccessAccept, [("Session-Timeout", 60)])
    assert raw[20] == 80  # Message-Authenticator first (BlastRADIUS)
    assert packet.VerifyReply(packet.CreateReply(packet=raw), raw, enforce_ma=True)


@pytest.mark.parametrize(
    "data",
    [
        _access(b"wrong"),  # User-Password undecodable
        _access(b"wrong", password=None, signed=True),  # Message-Authenticator fails
        b"\x01\x02\x00\x14" + bytes(10),  # truncated
        b"\x04" + bytes(40),  # accounting code on the auth port
        b"",
    ],
    ids=["password", "message-authenticator", "truncated", "wrong-port", "empty"],
)
def test_access_requests_failing_a_check_are_dropped(data: bytes) -> None:
    assert decode_request(data, SECRET, accounting=False) is None


def test_accounting_with_a_wrong_secret_or_tampered_is_dropped() -> None:
    assert decode_request(_accounting(SECRET), SECRET, accounting=True) is not None
    assert decode_request(_accounting(SECRET, signed=True), SECRET, accounting=True) is not None
    assert decode_request(_accounting(b"wrong"), SECRET, accounting=True) is None
    tampered = bytearray(_accounting(SECRET))
    tampered[-1] ^= 1
    assert decode_request(bytes(tampered), SECRET, accounting=True) is None


def test_a_signed_request_gets_a_reply_the_client_verifies() -> None:
    packet = AuthPacket(AccessRequest, secret=SECRET, dict=dictionary())
    packet.AddAttribute("User-Name", "alice")
    packet.add_message_authenticator()
    request = decode_request(packet.RequestPacket(), SECRET, accounting=False)
    assert request is not None
    assert request.signed
    raw = encode_reply(request, AccessAccept, [("Session-Timeout", 60)])
    reply = packet.CreateReply(packet=raw)
    assert packet.VerifyReply(reply, raw, enforce_ma=True)
    assert reply["Session-Timeout"] == [60]


def test_card_class_round_trips_and_refuses_tampering_or_another_secret() -> None:
    sealed = card_class.seal("12345678", "4321", SECRET)
    assert sealed is not None
    assert b"4321" not in sealed
    assert card_class.unseal(sealed, SECRET) == ("12345678", "4321")
    assert card_class.unseal(sealed, b"other") is None
    assert card_class.unseal(sealed[:-1] + bytes([sealed[-1] ^ 1]), SECRET) is None
    assert card_class.unseal(b"something else", SECRET) is None


def test_reply_cache_replays_and_expires() -> None:
    now = [0.0]
    cache = ReplyCache(ttl_seconds=30, max_entries=2, clock=lambda: now[0])
    key = ("127.0.0.1", 5000, 7, bytes(16))
    cache.begin(key)
    assert cache.get(key) == IN_FLIGHT
    cache.put(key, b"reply")
    assert cache.get(key) == b"reply"
    now[0] = 31.0
    assert cache.get(key) is None
    for port in range(3):
        cache.put(("h", port, 1, b""), b"r")
    assert len(cache) == 2


def test_attributes_outside_the_dictionary_are_kept_raw_not_fatal() -> None:
    packet = AcctPacket(AccountingRequest, secret=SECRET, dict=dictionary())
    packet.AddAttribute("Acct-Status-Type", "Stop")
    packet[(27880, 1)] = [b"freeswitch vsa"]  # FreeSWITCH's vendor, not in voxbill's dictionary
    packet[87] = [b"NAS-Port-Id"]
    request = decode_request(packet.RequestPacket(), SECRET, accounting=True)
    assert request is not None
    assert request.packet["Acct-Status-Type"] == ["Stop"]


def test_a_port_with_too_much_in_progress_drops_new_requests() -> None:
    """A flood from a client's address (UDP sources are easy to forge) queues at most
    ``max_pending`` requests per port; the rest are dropped, as a NAS retransmits."""
    import asyncio

    from voxbill.protocols.radius.clients import RadiusClients
    from voxbill.protocols.radius.server import RadiusServer, _Endpoint

    class Transport:
        def sendto(self, data: bytes, addr: object) -> None: ...

    async def flood() -> int:
        clients = RadiusClients.parse("127.0.0.1=s3cret").bound([1])
        server = RadiusServer(None, clients, max_pending=2)  # type: ignore[arg-type]
        server.process = lambda *args: None  # type: ignore[method-assign]
        endpoint = _Endpoint(server, accounting=False)
        endpoint.connection_made(Transport())  # type: ignore[arg-type]
        for ident in range(5):
            data = bytearray(_access(SECRET, signed=True))
            data[1] = ident
            endpoint.datagram_received(bytes(data), ("127.0.0.1", 4000))
        in_progress = len(endpoint._tasks)
        await endpoint.drain()
        server.executor.shutdown()
        return in_progress

    assert asyncio.run(flood()) == 2
