"""The SIP redirect server: asyncio UDP and TCP listeners over one :class:`RedirectDoor`.

Methods: INVITE → 302 with routes or a refusal (decided in a thread pool, since charging
reads and writes the database); ACK absorbed; OPTIONS → 200; CANCEL → 200 when it
matches an INVITE transaction already answered, else 481; BYE → 481 (a redirect server
is never part of a dialog) unless it stops a session (``X-Voxbill-Duration``, see
:mod:`door`); anything else → 405 with Allow. A message that cannot be parsed gets 400
when it carries Via, Call-ID and CSeq, and is dropped otherwise. No input stops the
server: every failure is logged and the loop goes on.

Who is answered: only sources that ``peers`` (``VOXBILL_SIP_PEERS``) lists. A datagram
from anyone else is dropped unread and a TCP connection from anyone else is closed at
once: a stranger learns nothing, not even that voxbill listens. The peer's operator
scopes every lookup of the request. The match is one scan of a short list, per datagram
or per connection, once per source address (then remembered).

TCP connections pass a :class:`~voxbill.serving.connections.Gate` (at most
``max_connections`` at once, ``max_per_source`` from one address; over a cap the
connection is closed unread), are closed after ``idle_timeout`` seconds without a
byte between messages, when a started message is not complete ``read_timeout`` seconds
after its first byte (one deadline per message, so a trickle of bytes does not keep it
alive), and when the peer leaves more than :data:`MAX_UNSENT` bytes of answers unread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from typing import Any

from voxbill.protocols.log_safe import printable
from voxbill.protocols.peers import Peer, Peers
from voxbill.protocols.sip import response
from voxbill.protocols.sip.door import Answer, RedirectDoor
from voxbill.protocols.sip.message import SipParseError, SipRequest, frame, parse_request
from voxbill.protocols.sip.transactions import PENDING, Key, TransactionCache
from voxbill.serving.connections import ConnectionLimits, Gate

log = logging.getLogger(__name__)
Source = tuple[str, int]
#: Bytes of answers a TCP peer may leave unread before its connection is closed.
MAX_UNSENT = 1 << 20
#: Source addresses whose peer (or strangeness) is remembered; forgotten all at once
#: when full (spoofed sources then cost what an uncached match does, nothing more).
KNOWN_SOURCES = 4096


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
        peers: Peers | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        """``peers``: who is answered (default: loopback only, bound to no operator, so
        lookups are not scoped: ``voxbill serve`` always binds them, see
        :func:`~voxbill.protocols.sip.running.sip_peers`)."""
        self._door = door
        self._peers = peers if peers is not None else Peers.parse("")
        #: source address -> its peer or None: ``Peers.match`` parses the address and
        #: tests each network (~10 us in CPython); a dict lookup is ~0.1 us
        self._known: dict[str, Peer | None] = {}
        self._gate = Gate(limits or ConnectionLimits())
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
    def host(self) -> str:
        return self._host

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

    @property
    def gate(self) -> Gate:
        """The TCP connections' counts (open in total, per source)."""
        return self._gate

    def peer(self, source_ip: str) -> Peer | None:
        """The peer a source address belongs to; None: a stranger, who gets nothing."""
        try:
            return self._known[source_ip]
        except KeyError:
            pass
        found = self._peers.match(source_ip)
        if len(self._known) >= KNOWN_SOURCES:
            self._known.clear()
        self._known[source_ip] = found
        return found

    # -- one message -------------------------------------------------------------------

    async def handle(self, data: bytes, source: Source, peer: Peer | None = None) -> bytes | None:
        """The response bytes for one message from ``source`` (None: send nothing).
        ``peer``: the source's peer when the transport matched it already."""
        if peer is None:
            peer = self.peer(source[0])
        if peer is None:
            return None
        try:
            request = parse_request(data)
        except SipParseError as error:
            if error.answerable and error.partial is not None:
                return response.build(error.partial, 400, "Bad Request", source=source)
            log.debug("SIP message from %s dropped: %s", source, error)
            return None
        try:
            return await self._answer(request, source, peer)
        except Exception:  # the server outlives any one message
            log.exception("SIP %s from %s failed", printable(request.method), source)
            return response.build(request, 500, "Server Internal Error", source=source)

    async def _answer(self, request: SipRequest, source: Source, peer: Peer) -> bytes | None:
        method = request.method
        operator_id = peer.operator_id
        if method == "ACK":
            return None
        if method == "OPTIONS":
            return response.build(request, 200, "OK", [("Allow", response.ALLOW)], source=source)
        if method == "BYE":
            return await self._bye(request, source, operator_id)
        if method == "CANCEL":
            known = self.transactions.get(_key(request)) not in (None, PENDING)
            status, phrase = (200, "OK") if known else (481, "Call/Transaction Does Not Exist")
            return response.build(request, status, phrase, source=source)
        if method != "INVITE":
            allow = [("Allow", response.ALLOW)]
            return response.build(request, 405, "Method Not Allowed", allow, source=source)
        return await self._invite(request, source, peer)

    async def _bye(
        self, request: SipRequest, source: Source, operator_id: int | None
    ) -> bytes | None:
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(self._executor, self._door.bye, request, operator_id)
        return response.build(request, answer.status, answer.phrase, answer.headers, source=source)

    async def _invite(self, request: SipRequest, source: Source, peer: Peer) -> bytes | None:
        key = _key(request)
        sent = self.transactions.get(key)
        if sent is not None:
            return sent or None  # the same answer again; nothing while still deciding
        if (request.first("max-forwards") or "70").strip() == "0":
            return response.build(request, 483, "Too Many Hops", source=source)
        self.transactions.begin(key)
        loop = asyncio.get_running_loop()
        try:
            invite: Callable[..., Answer] = self._door.invite
            if peer.authorize_only:
                invite = partial(invite, authorize_only=True)
            answer: Answer = await loop.run_in_executor(
                self._executor, invite, request, source[0], peer.operator_id
            )
        except BaseException:
            self.transactions.forget(key)
            raise
        data = response.build(request, answer.status, answer.phrase, answer.headers, source=source)
        self.transactions.answer(key, data)
        return data

    # -- transports --------------------------------------------------------------------

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_name = writer.get_extra_info("peername") or ("", 0)
        source = (str(peer_name[0]), int(peer_name[1]))
        peer = self.peer(source[0])
        if peer is None:
            writer.transport.abort()  # a stranger: closed before a byte is read
            return
        if not self._gate.admit(source[0]):
            log.info("SIP TCP connection from %s refused: too many connections", source)
            writer.transport.abort()
            return
        try:
            await self._read_stream(reader, writer, source, peer)
        except SipParseError as error:
            log.info("SIP stream from %s closed: %s", source, error)
        except TimeoutError:
            log.info("SIP stream from %s closed: idle or too slow", source)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._gate.release(source[0])
            writer.close()

    async def _read_stream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        source: Source,
        peer: Peer,
    ) -> None:
        """Frame and answer messages until the peer closes, falls silent between
        messages for ``idle_timeout``, or takes ``read_timeout`` over one message."""
        limits = self._gate.limits
        loop = asyncio.get_running_loop()
        buffer = bytearray()
        deadline: float | None = None  # when the message begun in ``buffer`` must be whole
        while True:
            until = loop.time() + limits.idle_timeout if deadline is None else deadline
            async with asyncio.timeout_at(until):
                chunk = await reader.read(65536)
            if not chunk:
                return
            buffer += chunk
            framed = False
            while (message := frame(buffer)) is not None:
                self.spawn(self._reply_stream(message, source, writer, peer))
                framed = True
            if not buffer:
                deadline = None
            elif deadline is None or framed:  # a new message has begun
                deadline = loop.time() + limits.read_timeout
            if writer.transport.get_write_buffer_size() > MAX_UNSENT:
                log.info("SIP stream from %s closed: its answers are not read", source)
                return

    async def _reply_stream(
        self, message: bytes, source: Source, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        data = await self.handle(message, source, peer)
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
        peer = self._server.peer(addr[0])
        if peer is None:  # a stranger: no answer, no task
            return
        self._server.spawn(self._reply(data, (str(addr[0]), int(addr[1])), peer))

    async def _reply(self, data: bytes, source: Source, peer: Peer) -> None:
        reply = await self._server.handle(data, source, peer)
        if reply and self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(reply, source)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        log.debug("SIP UDP error: %s", exc)
