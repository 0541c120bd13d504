"""The Diameter Gy listener over TCP (asyncio), and a thread runner for ``voxbill serve``."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from .gy import GyHandler
from .options import DiameterOptions
from .peer import Door, PeerState, Reply
from .requests import CREDIT_CONTROL
from .wire import Frame, FramingLost, read_frame

log = logging.getLogger(__name__)


class DiameterServer:
    """``await start()`` listens; ``port`` is the bound port (0 in options picks one)."""

    def __init__(self, options: DiameterOptions, handler: GyHandler) -> None:
        self.options = options
        self._executor = ThreadPoolExecutor(options.workers, thread_name_prefix="diameter")
        self._door = Door(options, handler, self._executor)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

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
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await _Connection(self._door, reader, writer).run()
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("Diameter connection failed")
        finally:
            self._connections.discard(task)
            writer.close()


class _Connection:
    def __init__(
        self, door: Door, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        local = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        self._state = PeerState(door, str(local[0]))
        self._reader, self._writer = reader, writer
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        try:
            while True:
                try:
                    frame = await read_frame(self._reader)
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
        await self._send(await self._state.answer(frame))

    async def _send(self, reply: Reply) -> None:
        if reply.data is None:
            return
        async with self._write_lock:
            self._writer.write(reply.data)
            await self._writer.drain()


class DiameterThread:
    """The listener in a daemon thread with its own event loop, beside uvicorn's."""

    def __init__(self, options: DiameterOptions, handler: GyHandler) -> None:
        self._options, self._handler = options, handler
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="diameter", daemon=True)
        self.port = 0

    def start(self) -> DiameterThread:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        server = DiameterServer(self._options, self._handler)
        try:
            loop.run_until_complete(server.start())
            self.port = server.port
        finally:
            self._ready.set()
        loop.run_forever()
        loop.run_until_complete(server.close())
        loop.close()
