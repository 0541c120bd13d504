"""One peer connection's state machine: CER first, then DWR / CCR / DPR (RFC 6733 §5).

Transport-free so it can be fuzzed: :meth:`PeerState.answer` takes a frame and returns
the bytes to send and whether to close afterwards. Credit control runs in a worker
thread; too many at once are answered 3004 (too busy) rather than queued without end.

A connection belongs to one peer, admitted by its address and bound to its operator
(``operator_id``: every CCR on it is handled for that operator). A CER whose
Origin-Host is not among ``DiameterOptions.peer_hosts`` (when listed) is answered 3010
(DIAMETER_UNKNOWN_PEER) and the connection closes (RFC 6733 §5.3).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Final

from diameter.message import constants as c

from voxbill.protocols.log_safe import printable

from . import answers
from .gy import GyHandler, GyResult
from .options import DiameterOptions
from .requests import CREDIT_CONTROL, GY_APPLICATION, Envelope, envelope, read_ccr
from .wire import Frame, ProtocolError, decode, first, value

log = logging.getLogger(__name__)

CAPABILITIES: Final = 257
WATCHDOG: Final = 280
DISCONNECT: Final = 282
_RELAY: Final = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Reply:
    data: bytes | None
    close: bool = False


class Door:
    """What every connection shares: options, the Gy handler, workers, the load gauge."""

    def __init__(self, options: DiameterOptions, handler: GyHandler, executor: Executor) -> None:
        self.options = options
        self.handler = handler
        self.executor = executor
        self.pending = 0


class PeerState:
    def __init__(
        self, door: Door, local_ip: str, operator_id: int | None = None, source: str = ""
    ) -> None:
        self._door = door
        self._local_ip = local_ip
        self._operator_id = operator_id
        self._source = source
        self.open = False

    async def answer(self, frame: Frame) -> Reply:
        """Never raises for anything the peer sent."""
        if not frame.is_request:
            return Reply(None)  # we send no requests: a stray answer is dropped
        options = self._door.options
        try:
            message = decode(frame)
            return await self._request(frame, message.avps)
        except ProtocolError as error:
            return Reply(_error(frame.header, options, error), close=not self.open)
        except Exception:
            log.exception("Diameter request failed")
            failure = ProtocolError(c.E_RESULT_CODE_DIAMETER_UNABLE_TO_COMPLY, "internal error")
            return Reply(_error(frame.header, options, failure))

    def lost(self, lost: ProtocolError) -> Reply:
        """The answer to a header whose length cannot be trusted; the stream closes."""
        header = getattr(lost, "header", None)
        if header is None or not header.command_flags & 0x80:
            return Reply(None, close=True)
        return Reply(_error(header, self._door.options, lost), close=True)

    async def _request(self, frame: Frame, avps: list[Any]) -> Reply:
        header, options = frame.header, self._door.options
        code = header.command_code
        if code == CAPABILITIES:
            return self._capabilities(header, avps)
        if not self.open:
            raise ProtocolError(c.E_RESULT_CODE_DIAMETER_UNKNOWN_PEER, "CER must come first")
        if code == WATCHDOG:
            return Reply(answers.watchdog(header, options))
        if code == DISCONNECT:
            self.open = False
            return Reply(answers.disconnect(header, options), close=True)
        if code == CREDIT_CONTROL:
            return Reply(await self._credit_control(header, avps))
        raise ProtocolError(c.E_RESULT_CODE_DIAMETER_COMMAND_UNSUPPORTED, f"command {code}")

    def _capabilities(self, header: Any, avps: list[Any]) -> Reply:
        options = self._door.options
        for code in (c.AVP_ORIGIN_HOST, c.AVP_ORIGIN_REALM):
            if first(avps, code) is None:
                raise ProtocolError(c.E_RESULT_CODE_DIAMETER_MISSING_AVP, f"AVP {code} missing")
        if options.peer_hosts:
            host = _identity(first(avps, c.AVP_ORIGIN_HOST))
            if host is None or host.lower() not in options.peer_hosts:
                log.warning(
                    "Diameter CER from %s with Origin-Host %s not in VOXBILL_DIAMETER_PEER_HOSTS:"
                    " answered 3010 and disconnected",
                    self._source,
                    printable(host if host is not None else "(undecodable)"),
                )
                result = c.E_RESULT_CODE_DIAMETER_UNKNOWN_PEER
                return Reply(answers.capabilities(header, options, result, self._local_ip), True)
        offered = {value(a) for a in avps if a.code == c.AVP_AUTH_APPLICATION_ID}
        for group in (a for a in avps if a.code == c.AVP_VENDOR_SPECIFIC_APPLICATION_ID):
            offered |= {value(a) for a in value(group) if a.code == c.AVP_AUTH_APPLICATION_ID}
        if not offered & {GY_APPLICATION, _RELAY}:
            result = c.E_RESULT_CODE_DIAMETER_NO_COMMON_APPLICATION
            return Reply(answers.capabilities(header, options, result, self._local_ip), True)
        self.open = True
        result = c.E_RESULT_CODE_DIAMETER_SUCCESS
        return Reply(answers.capabilities(header, options, result, self._local_ip))

    async def _credit_control(self, header: Any, avps: list[Any]) -> bytes:
        door = self._door
        echo = envelope(avps)
        if header.application_id != GY_APPLICATION:
            error = ProtocolError(c.E_RESULT_CODE_DIAMETER_APPLICATION_UNSUPPORTED, "not Gy")
            return answers.protocol_error(header, door.options, error, echo.session_id)
        try:
            request = read_ccr(avps)
        except ProtocolError as error:
            return _ccr_error(header, door.options, echo, error)
        if door.pending >= door.options.max_pending:
            busy = GyResult(c.E_RESULT_CODE_DIAMETER_TOO_BUSY, error_message="too busy")
            return answers.credit_control(header, door.options, echo, busy)
        door.pending += 1
        try:
            loop = asyncio.get_running_loop()
            handle = functools.partial(door.handler.handle, request, self._operator_id)
            result = await loop.run_in_executor(door.executor, handle)
        finally:
            door.pending -= 1
        return answers.credit_control(header, door.options, echo, result, request.service)


def _identity(avp: Any) -> str | None:
    """A DiameterIdentity AVP as text, or None when it does not decode."""
    try:
        data = value(avp)
    except ProtocolError:
        return None
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return data if isinstance(data, str) else None


def _error(header: Any, options: DiameterOptions, error: ProtocolError) -> bytes:
    try:
        return answers.protocol_error(header, options, error)
    except Exception:  # a Failed-AVP too broken to re-encode: answer without it
        bare = ProtocolError(error.result_code, str(error))
        return answers.protocol_error(header, options, bare)


def _ccr_error(
    header: Any, options: DiameterOptions, echo: Envelope, error: ProtocolError
) -> bytes:
    """A CCA carrying an AVP error (5004 / 5005) with its Failed-AVP."""
    result = GyResult(error.result_code, error_message=str(error))
    try:
        return answers.credit_control(header, options, echo, result, failed=error.failed)
    except Exception:  # a Failed-AVP too broken to re-encode: answer without it
        return answers.credit_control(header, options, echo, result)
