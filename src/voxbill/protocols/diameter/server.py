"""The Diameter Gy listener over TCP (asyncio), and a thread runner for ``voxbill serve``.

Who may connect is decided before anything is read: a source address outside
``VOXBILL_DIAMETER_PEERS`` is closed at once (no answer: nothing tells it a Diameter
node listens there), and so is a connection over the listener's caps (``Gate``:
``VOXBILL_STREAM_MAX_CONNECTIONS``, ``VOXBILL_STREAM_MAX_PER_SOURCE``). An admitted
connection is closed when no frame begins within the idle timeout
(``VOXBILL_STREAM_IDLE_TIMEOUT_SECONDS``: peers send DWRs well within it), when a
begun frame is not finished within the read timeout, and when the peer does not take
an answer within that timeout either (it stopped reading).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from voxbill.domain.errors import InvalidInput
from voxbill.protocols.listener_thread import ListenerThread
from voxbill.protocols.peers import source_address
from voxbill.serving.connections import Gate

from .gy import GyHandler
from .options import DiameterOptions
from .peer import Door, PeerState, Reply
from .requests import CREDIT_CONTROL
from .wire import Frame, FramingLost, ReadTimeout, read_frame

log = logging.getLogger(__name__)


class DiameterServer:
    """``await start()`` listens; ``port`` is the bound port (0 in options picks one)."""

    def __init__(self, options: DiameterOptions, handler: GyHandler) -> None:
        if not options.is_bound:
            raise InvalidInput("Diameter peers must be bound to operators (options.bound)")
        self.options = options
        self._executor = ThreadPoolExecutor(options.workers, thread_name_prefix="diameter")
        self._door = Door(options, handler, self._executor)
        self._gate = Gate(options.limits)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def open_connections(self) -> int:
        return self._gate.open

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, self.options.host, self.options.port
        )
        log.info("Diameter Gy on %s:%s", self.options.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await self._server.wait_closed()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername") or ("", 0)
        address = source_address(str(peername[0]))
        source = "" if address is None else str(address)
        peer = self.options.peers.match(source)
        if peer is None:
            log.info("Diameter connection from %s closed: not a peer", source or "?")
            writer.transport.abort()
            return
        if not self._gate.admit(source):
            log.warning("Diameter connection from %s closed: too many connections", source)
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            connection = _Connection(self._door, reader, writer, peer.operator_id, source)
            await connection.run()
        except (ConnectionError, asyncio.CancelledError):
            pass
        except ReadTimeout as timeout:
            log.info("Diameter connection from %s closed: %s", source, timeout)
        except Exception:
            log.exception("Diameter connection failed")
        finally:
            self._gate.release(source)
            self._connections.discard(task)
            writer.close()


class _Connection:
    def __init__(
        self,
        door: Door,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        operator_id: int | None = None,
        source: str = "",
    ) -> None:
        local = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        self._state = PeerState(door, str(local[0]), operator_id, source)
        self._limits = door.options.limits
        self._reader, self._writer = reader, writer
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Read and answer frames until the peer leaves, says DPR, breaks framing, or
        stays silent too long (:class:`ReadTimeout`, raised)."""
        limits = self._limits
        try:
            while True:
                try:
                    frame = await read_frame(
                        self._reader, idle=limits.idle_timeout, read=limits.read_timeout
                    )
                except FramingLost as lost:
                    await self._send(self._state.lost(lost))
                    return
                if frame is None:  # the peer half-closed: finish what it asked first
                    await asyncio.gather(*self._tasks, return_exceptions=True)
                    return
                if frame.header.command_code == CREDIT_CONTROL and self._state.open:
                    task = asyncio.create_task(self._answer(frame))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    continue
                reply = await self._state.answer(frame)
                if reply.close:
                    await asyncio.gather(*self._tasks, return_exceptions=True)
                await self._send(reply)
                if reply.close:
                    return
        finally:
            for task in self._tasks:
                task.cancel()

    async def _answer(self, frame: Frame) -> None:
        with contextlib.suppress(ConnectionError):  # the connection is closing anyway
            await self._send(await self._state.answer(frame))

    async def _send(self, reply: Reply) -> None:
        """Write an answer; a peer that does not take it within the read timeout (it
        stopped reading) loses its connection rather than holding the answers."""
        if reply.data is None:
            return
        async with self._write_lock:
            self._writer.write(reply.data)
            try:
                async with asyncio.timeout(self._limits.read_timeout):
                    await self._writer.drain()
            except TimeoutError:
                self._writer.transport.abort()
                raise ConnectionResetError("the peer does not read its answers") from None


class DiameterThread(ListenerThread):
    """The listener in a daemon thread with its own event loop, beside uvicorn's."""

    def __init__(self, options: DiameterOptions, handler: GyHandler) -> None:
        self.server = DiameterServer(options, handler)  # refuses unbound peers, here
        self.port = 0
        super().__init__(
            "Diameter", f"{options.host}:{options.port}", self._listen, self.server.close
        )

    async def _listen(self) -> None:
        await self.server.start()
        self.port = self.server.port
