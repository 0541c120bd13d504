"""The SIP redirect server: asyncio UDP and TCP listeners over one :class:`RedirectDoor`.

Methods: INVITE → 302 with routes or a refusal (decided in a thread pool, since charging
reads and writes the database); ACK absorbed; OPTIONS → 200; CANCEL → 200 when it
matches an INVITE transaction already answered, else 481; BYE → 481 (a redirect server
is never part of a dialog); anything else → 405 with Allow. A message that cannot be
parsed gets 400 when it carries Via, Call-ID and CSeq, and is dropped otherwise. No
input stops the server: every failure is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from voxbill.protocols.sip import response
from voxbill.protocols.sip.door import Answer, RedirectDoor
from voxbill.protocols.sip.message import SipParseError, SipRequest, frame, parse_request
from voxbill.protocols.sip.transactions import PENDING, Key, TransactionCache

log = logging.getLogger(__name__)
Source = tuple[str, int]


class SipServer:
    def __init__(
        self,
        door: RedirectDoor,
        *,
        host: str = "127.0.0.1",
        port: int = 5060,
        executor: Executor | None = None,
        workers: int = 8,
        reuse_port: bool = False,
    ) -> None:
        self._door = door
        self._host = host
        self._port = port
        #: SO_REUSEPORT: several processes answer one port (the kernel spreads the
        #: sources over them; a source keeps its process), see ``sip.processes``
        self._reuse_port = reuse_port
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(workers, thread_name_prefix="sip")
        self.transactions = TransactionCache()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Bind UDP and TCP on one port; with port 0, a free one for both (a few tries)."""
        loop = asyncio.get_running_loop()
        for attempt in range(10):
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self),
                local_addr=(self._host, self._port),
                reuse_port=self._reuse_port or None,
            )
            port = self._udp.get_extra_info("sockname")[1]  # the real one when 0 was asked
            try:
                self._tcp = await asyncio.start_server(
                    self._stream, self._host, port, reuse_port=self._reuse_port or None
                )
                break
            except OSError:
                self._udp.close()
                if self._port or attempt == 9:
                    raise
        self._port = port
        log.info("SIP redirect server on %s:%s (UDP and TCP)", self._host, port)

    @property
    def port(self) -> int:
        return self._port

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- one message -------------------------------------------------------------------

    async def handle(self, data: bytes, source: Source) -> bytes | None:
        """The response bytes for one message from ``source`` (None: send nothing)."""
        try:
            request = parse_request(data)
        except SipParseError as error:
            if error.answerable and error.partial is not None:
                return response.build(error.partial, 400, "Bad Request", source=source)
            return None
        try:
            return await self._answer(request, source)
        except Exception:  # the server outlives any one message
            log.exception("SIP %s from %s failed", request.method, source)
            return response.build(request, 500, "Server Internal Error", source=source)

    async def _answer(self, request: SipRequest, source: Source) -> bytes | None:
        method = request.method
        if method == "ACK":
            return None
        if method == "OPTIONS":
            return response.build(request, 200, "OK", [("Allow", response.ALLOW)], source=source)
        if method == "BYE":
            return response.build(request, 481, "Call/Transaction Does Not Exist", source=source)
        if method == "CANCEL":
            known = self.transactions.get(_key(request)) not in (None, PENDING)
            status, phrase = (200, "OK") if known else (481, "Call/Transaction Does Not Exist")
            return response.build(request, status, phrase, source=source)
        if method != "INVITE":
            allow = [("Allow", response.ALLOW)]
            return response.build(request, 405, "Method Not Allowed", allow, source=source)
        return await self._invite(request, source)

    async def _invite(self, request: SipRequest, source: Source) -> bytes | None:
        key = _key(request)
        sent = self.transactions.get(key)
        if sent is not None:
            return sent or None  # the same answer again; nothing while still deciding
        if (request.first("max-forwards") or "70").strip() == "0":
            return response.build(request, 483, "Too Many Hops", source=source)
        self.transactions.begin(key)
        loop = asyncio.get_running_loop()
        try:
            answer: Answer = await loop.run_in_executor(
                self._executor, self._door.invite, request, source[0]
            )
        except BaseException:
            self.transactions.forget(key)
            raise
        data = response.build(request, answer.status, answer.phrase, answer.headers, source=source)
        self.transactions.answer(key, data)
        return data

    # -- transports --------------------------------------------------------------------

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        source = (str(peer[0]), int(peer[1]))
        buffer = bytearray()
        try:
            while chunk := await reader.read(65536):
                buffer += chunk
                while (message := frame(buffer)) is not None:
                    self.spawn(self._reply_stream(message, source, writer))
        except SipParseError as error:
            log.info("SIP stream from %s closed: %s", source, error)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _reply_stream(
        self, message: bytes, source: Source, writer: asyncio.StreamWriter
    ) -> None:
        data = await self.handle(message, source)
        if data and not writer.is_closing():
            writer.write(data)


def _key(request: SipRequest) -> Key:
    number, _ = request.cseq
    return request.call_id, number, request.branch


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: SipServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: Any) -> None:
        source = (str(addr[0]), int(addr[1]))
        self._server.spawn(self._reply(data, source))

    async def _reply(self, data: bytes, source: Source) -> None:
        reply = await self._server.handle(data, source)
        if reply and self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(reply, source)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        log.debug("SIP UDP error: %s", exc)
