"""The RADIUS listeners: authentication on PORT, accounting on PORT+1 (UDP, asyncio).

pyrad encodes and decodes packets; the sockets are voxbill's own asyncio
``DatagramProtocol`` rather than pyrad's ``ServerAsync``, because clients are matched by
network (longest prefix), charging is blocking database work that must run off the
event loop (a thread pool), and retransmissions are answered from a reply cache.

Every client is bound to an operator before the server starts (``RadiusClients.bound``):
its requests look callers up among that operator's identifiers only.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from pyrad.packet import AccountingResponse

from voxbill.domain.errors import InvalidInput
from voxbill.protocols.radius.access import AccessHandler
from voxbill.protocols.radius.accounting import AccountingHandler
from voxbill.protocols.radius.clients import UNSIGNED_SETTING, RadiusClient, RadiusClients
from voxbill.protocols.radius.codec import decode_request, encode_reply, unsigned_access_request
from voxbill.protocols.radius.port import Charging
from voxbill.protocols.radius.replies import ReplyCache
from voxbill.protocols.session_scope import SessionScope

log = logging.getLogger(__name__)

#: Sources already warned about unsigned Access-Requests (one warning each, bounded).
_WARN_LIMIT = 1024


class _Endpoint(asyncio.DatagramProtocol):
    """One UDP port: drop what is not ours, replay cached replies, process the rest."""

    def __init__(self, server: RadiusServer, *, accounting: bool) -> None:
        self._server = server
        self._accounting = accounting
        self._replies = ReplyCache()
        self._tasks: set[asyncio.Task[None]] = set()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        host, port = addr[0], addr[1]
        client = self._server.clients.match(host)
        if client is None or len(data) < 20:
            log.debug("RADIUS packet from unknown client %s dropped", host)
            return
        key = (host, port, data[1], data[4:20])
        cached = self._replies.get(key)
        if cached is not None:
            if cached and self.transport is not None:  # else IN_FLIGHT: first copy answers
                self.transport.sendto(cached, addr)
            return
        if len(self._tasks) >= self._server.max_pending:
            return  # too much in progress on this port: dropped, the NAS retransmits
        self._replies.begin(key)
        task = asyncio.get_running_loop().create_task(self._answer(data, client, addr, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, data: bytes, client: RadiusClient, addr: Any, key: Any) -> None:
        loop = asyncio.get_running_loop()
        host = str(addr[0])
        try:
            reply = await loop.run_in_executor(
                self._server.executor,
                self._server.process,
                data,
                client,
                self._accounting,
                host,
            )
        except Exception:
            log.exception("RADIUS request from %s not answered", addr[0])
            reply = None
        if reply is None:
            self._replies.forget(key)
            if client.signed and not self._accounting and unsigned_access_request(data):
                self._server.warn_unsigned(str(addr[0]))
            return
        self._replies.put(key, reply)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _same(endpoint: _Endpoint) -> _Endpoint:
    return endpoint


class RadiusServer:
    """Both RADIUS listeners over one charging service (see the module docstring)."""

    def __init__(
        self,
        charging: Charging,
        clients: RadiusClients,
        *,
        host: str = "127.0.0.1",
        port: int = 1812,
        workers: int = 8,
        scope: SessionScope | None = None,
        max_pending: int = 1024,
    ) -> None:
        """``clients`` must be bound to operators; ``scope``: which sessions a client's
        operator may update and stop (None: any, for tests over a fake charging);
        ``max_pending``: requests in progress per port beyond which new ones are dropped
        (a flood queues no unbounded work; a NAS retransmits)."""
        if not clients.is_bound:
            raise InvalidInput("RADIUS clients must be bound to operators (RadiusClients.bound)")
        self.clients = clients
        self.max_pending = max_pending
        self.host = host
        self.auth_port = port
        self.acct_port = port + 1
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="radius")
        self._access = AccessHandler(charging)
        self._accounting = AccountingHandler(charging, scope=scope)
        self._endpoints: list[_Endpoint] = []
        self._warned: set[str] = set()

    def process(
        self, data: bytes, client: RadiusClient, accounting: bool, source: str | None = None
    ) -> bytes | None:
        """Decode, apply and encode one request (in a worker thread) from the client at
        ``source``; ``None`` = drop."""
        request = decode_request(
            data, client.secret, accounting=accounting, require_signature=client.signed
        )
        if request is None:
            return None
        if accounting:
            self._accounting.record(request, client)
            return encode_reply(request, AccountingResponse, [])
        code, attributes = self._access.answer(request, client, source=source)
        return encode_reply(request, code, attributes)

    def warn_unsigned(self, source: str) -> None:
        """Say once per source why its unsigned Access-Requests get no answer."""
        if source in self._warned or len(self._warned) >= _WARN_LIMIT:
            return
        self._warned.add(source)
        log.warning(
            "RADIUS Access-Requests from %s without Message-Authenticator are dropped; "
            "configure the NAS to send one, or list its network in %s",
            source,
            UNSIGNED_SETTING,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for port, accounting in ((self.auth_port, False), (self.acct_port, True)):
            endpoint = _Endpoint(self, accounting=accounting)
            await loop.create_datagram_endpoint(
                functools.partial(_same, endpoint), local_addr=(self.host, port)
            )
            self._endpoints.append(endpoint)
        log.info("RADIUS on %s: auth %d, accounting %d", self.host, self.auth_port, self.acct_port)

    async def close(self) -> None:
        for endpoint in self._endpoints:
            if endpoint.transport is not None:
                endpoint.transport.close()
        for endpoint in self._endpoints:
            await endpoint.drain()
        self._endpoints.clear()
        self.executor.shutdown(wait=True)
