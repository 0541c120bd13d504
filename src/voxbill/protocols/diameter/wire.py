"""Diameter framing and AVP coding over python-diameter (RFC 6733 §3, §4).

python-diameter does the byte work (headers, AVP codecs, its dictionary); this module
adds what a server on a stream needs around it: reading one frame at a time with the
header checked before the body is trusted (at most :data:`MAX_FRAME` bytes), within an
idle and a read timeout, and turning any decoding failure of a hostile frame into a
:class:`ProtocolError` that can still be answered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from diameter.message import Avp, Message, MessageHeader
from diameter.message.avp import AvpGrouped
from diameter.message.avp.errors import AvpDecodeError

HEADER_LENGTH: Final = 20
#: Largest frame accepted; a Gy request is a few hundred bytes.
MAX_FRAME: Final = 64 * 1024
_REQUEST: Final = 0x80
_ERROR: Final = 0x20
_RETRANSMIT: Final = 0x10

INVALID_HDR_BITS: Final = 3008
INVALID_AVP_VALUE: Final = 5004
MISSING_AVP: Final = 5005
INVALID_AVP_LENGTH: Final = 5014
INVALID_MESSAGE_LENGTH: Final = 5015


class ProtocolError(Exception):
    """A request that can be answered only with a protocol or AVP error."""

    def __init__(self, result_code: int, message: str, failed: Avp | None = None) -> None:
        super().__init__(message)
        self.result_code = result_code
        self.failed = failed


class FramingLost(ProtocolError):
    """The stream cannot be trusted past this header: answer it, then close."""

    def __init__(self, result_code: int, message: str, header: Any) -> None:
        super().__init__(result_code, message)
        self.header = header


@dataclass(frozen=True, slots=True)
class Frame:
    """One received message: its bytes and its header, checked."""

    data: bytes
    header: Any  # diameter.message.MessageHeader

    @property
    def is_request(self) -> bool:
        return bool(self.header.command_flags & _REQUEST)

    @property
    def is_retransmit(self) -> bool:
        return bool(self.header.command_flags & _RETRANSMIT)


def check_header(head: bytes) -> Any:
    """The header of a frame, or :class:`FramingLost` when its length cannot be used."""
    header = MessageHeader.from_bytes(head)
    if header.version != 1:
        raise FramingLost(5011, f"unsupported Diameter version {header.version}", header)
    if header.length < HEADER_LENGTH or header.length % 4 or header.length > MAX_FRAME:
        raise FramingLost(INVALID_MESSAGE_LENGTH, f"invalid length {header.length}", header)
    return header


class ReadTimeout(Exception):
    """No frame began within the idle timeout (``idle``), or a begun frame was not
    finished within the read timeout: the connection is closed."""

    def __init__(self, *, idle: bool) -> None:
        super().__init__("idle" if idle else "frame not finished in time")
        self.idle = idle


async def read_frame(
    reader: asyncio.StreamReader, *, idle: float | None = None, read: float | None = None
) -> Frame | None:
    """The next frame, or ``None`` at a clean end of stream. ``idle``: seconds to wait
    for its first byte; ``read``: seconds from its first byte to its last (a peer that
    sends half a frame and stops holds nothing longer). None: no limit."""
    try:
        async with asyncio.timeout(idle):
            first = await reader.readexactly(1)
    except asyncio.IncompleteReadError:
        return None
    except TimeoutError:
        raise ReadTimeout(idle=True) from None
    try:
        async with asyncio.timeout(read):
            head = first + await reader.readexactly(HEADER_LENGTH - 1)
            header = check_header(head)
            body = await reader.readexactly(header.length - HEADER_LENGTH)
    except asyncio.IncompleteReadError:
        return None
    except TimeoutError:
        raise ReadTimeout(idle=False) from None
    return Frame(head + body, header)


def decode(frame: Frame) -> Any:
    """The frame's message with its AVP list (values decode lazily, see :func:`value`)."""
    if frame.is_request and frame.header.command_flags & _ERROR:
        raise ProtocolError(INVALID_HDR_BITS, "E bit set in a request")
    try:
        return Message.from_bytes(frame.data, plain_msg=True)
    except Exception as exc:  # any library failure on hostile bytes is the peer's error
        raise ProtocolError(INVALID_AVP_LENGTH, f"malformed AVP list: {exc}") from None


def value(avp: Any) -> Any:
    """An AVP's decoded value; a value that does not decode is the peer's error (5004)."""
    try:
        return avp.value
    except (AvpDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise ProtocolError(INVALID_AVP_VALUE, f"invalid AVP {avp.code}: {exc}", avp) from None


def find(avps: list[Any], code: int, vendor: int = 0) -> list[Any]:
    return [a for a in avps if a.code == code and a.vendor_id == vendor]


def first(avps: list[Any], code: int, vendor: int = 0) -> Any | None:
    for avp in avps:
        if avp.code == code and avp.vendor_id == vendor:
            return avp
    return None


def children(avp: Any) -> list[Any]:
    """A grouped AVP's members (5004 when the group does not decode)."""
    if not isinstance(avp, AvpGrouped):
        raise ProtocolError(INVALID_AVP_VALUE, f"AVP {avp.code} is not grouped", avp)
    members = value(avp)
    assert isinstance(members, list)
    return members


def path(avps: list[Any], *steps: tuple[int, int]) -> list[Any]:
    """AVPs found by following (code, vendor) steps through grouped AVPs."""
    found = avps
    for depth, (code, vendor) in enumerate(steps):
        matched = find(found, code, vendor)
        if depth == len(steps) - 1:
            return matched
        found = [member for group in matched for member in children(group)]
    return found


def new(code: int, data: Any, vendor: int = 0) -> Any:
    """An AVP from the library dictionary (its flags and type) with ``data``."""
    return Avp.new(code, vendor, value=data)


def answer_header(request: Any, *, error: bool = False) -> Any:
    """The answer header: the request's ids and command, R cleared, P kept."""
    flags = request.command_flags & 0x40
    if error:
        flags |= _ERROR
    return MessageHeader(
        1,
        command_flags=flags,
        command_code=request.command_code,
        application_id=request.application_id,
        hop_by_hop_identifier=request.hop_by_hop_identifier,
        end_to_end_identifier=request.end_to_end_identifier,
    )


def encode(header: Any, avps: list[Any]) -> bytes:
    data: bytes = Message(header, avps).as_bytes()
    return data
