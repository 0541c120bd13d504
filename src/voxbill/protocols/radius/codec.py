"""Packets on the wire: decode and authenticate requests, encode replies (pyrad).

A request that fails any check returns ``None`` and is dropped unanswered, as RFC 2865
§3 asks: a wrong secret shows up as a bad Request Authenticator (accounting), a bad
Message-Authenticator (RFC 3579 §3.2) or an undecodable User-Password.

An Access-Request's Request Authenticator is random, not a signature: one that carries
neither a Message-Authenticator nor a User-Password proves nothing about the secret,
and was answered with the caller's balance whatever secret signed it (issue 10,
finding 9). So an Access-Request must carry exactly one valid Message-Authenticator
unless its client is allowed to omit it (``require_signature=False``; BlastRADIUS,
CVE-2024-3596, RFC 3579 §3.2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pyrad.dictionary import Dictionary
from pyrad.packet import (
    AccessRequest,
    AccountingRequest,
    AcctPacket,
    AuthPacket,
    Packet,
    StatusServer,
)

DICTIONARY_FILE = Path(__file__).with_name("dictionaries") / "dictionary"
USER_PASSWORD = 2
MESSAGE_AUTHENTICATOR = 80
_ACCESS_CODES = frozenset({AccessRequest, StatusServer})
_ACCOUNTING_CODES = frozenset({AccountingRequest, StatusServer})


@cache
def dictionary() -> Dictionary:
    """The attributes voxbill speaks: RFC 2865/2866/2869 and Cisco's VSAs (vendor 9)."""
    return Dictionary(str(DICTIONARY_FILE))


@dataclass(frozen=True, slots=True)
class Request:
    packet: Packet
    password: str | None  # the revealed User-Password, if one was sent

    @property
    def signed(self) -> bool:
        """Whether the request carried a (valid) Message-Authenticator."""
        return bool(self.packet.message_authenticator)


def attribute_count(data: bytes, code: int) -> int:
    """How many top-level attributes of type ``code`` a packet holds (raw walk; a
    malformed attribute list stops the count where it breaks)."""
    count, at = 0, 20
    while at + 2 <= len(data):
        length = data[at + 1]
        if length < 2:
            break
        count += data[at] == code
        at += length
    return count


def unsigned_access_request(data: bytes) -> bool:
    """An Access-Request without Message-Authenticator (dropped unless its client may)."""
    return (
        len(data) >= 20
        and data[0] == AccessRequest
        and not attribute_count(data, MESSAGE_AUTHENTICATOR)
    )


def decode_request(
    data: bytes, secret: bytes, *, accounting: bool, require_signature: bool = True
) -> Request | None:
    """The authenticated request in ``data``, or ``None`` when it must be dropped.

    ``require_signature``: an Access-Request without a Message-Authenticator is dropped
    (the default; a client listed in ``VOXBILL_RADIUS_UNSIGNED_CLIENTS`` passes False).
    """
    if len(data) < 20 or data[0] not in (_ACCOUNTING_CODES if accounting else _ACCESS_CODES):
        return None
    signatures = attribute_count(data, MESSAGE_AUTHENTICATOR)
    if signatures > 1:
        return None  # RFC 3579 §3.2: at most one
    if not signatures and data[0] == AccessRequest and require_signature:
        return None
    kind = AcctPacket if accounting else AuthPacket
    try:
        packet = kind(packet=data, secret=secret, dict=dictionary())
    except Exception:  # pyrad raises PacketError, KeyError, struct.error … on garbage
        return None
    if packet.message_authenticator:
        if not packet.verify_message_authenticator():
            return None
    elif packet.code == StatusServer:
        return None  # RFC 5997 §3: Status-Server must be signed
    if packet.code == AccountingRequest and not packet.VerifyAcctRequest():
        return None
    password = None
    hidden = packet.get(USER_PASSWORD) if packet.code == AccessRequest else None
    if hidden:
        password = reveal_password(hidden[0], secret, packet.authenticator)
        if password is None:
            return None
    return Request(packet, password)


def reveal_password(hidden: bytes, secret: bytes, authenticator: bytes) -> str | None:
    """RFC 2865 §5.2, strictly: ``None`` unless the result is printable UTF-8 (with a
    wrong secret it almost never is)."""
    if not hidden or len(hidden) % 16 or len(hidden) > 128:
        return None
    plain, last = b"", authenticator
    for start in range(0, len(hidden), 16):
        block = hidden[start : start + 16]
        pad = hashlib.md5(secret + last).digest()
        plain += bytes(a ^ b for a, b in zip(block, pad, strict=True))
        last = block
    try:
        text = plain.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text and text.isprintable() else None


def encode_reply(request: Request, code: int, attributes: list[tuple[str, Any]]) -> bytes:
    """The reply's bytes. Replies to access requests are always signed with a
    Message-Authenticator, as their first attribute (BlastRADIUS, CVE-2024-3596);
    accounting replies when the request was."""
    reply = request.packet.CreateReply()
    reply.code = code
    for name, value in attributes:
        reply.AddAttribute(name, value)
    if request.signed or request.packet.code == AccessRequest:
        reply.add_message_authenticator()
    data: bytes = reply.ReplyPacket()
    return data
