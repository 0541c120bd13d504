"""Several processes answering one SIP port, so that INVITEs use every CPU.

One Python process decides on one CPU at a time (the GIL); a redirect server whose every
INVITE is a charging transaction needs them all. ``voxbill serve --sip PORT
--sip-processes N`` starts N processes that each bind the port with ``SO_REUSEPORT``
(UDP and TCP): the kernel spreads sources over them, and a source (a switch's socket,
and so its retransmissions) keeps going to the same one. Each process has its own
services and database pool; every truth is in the database, so any process may answer
any call (a retransmission that did land elsewhere replays the same session).

The parent binds ``VOXBILL_SIP_PEERS`` once (a setting that cannot be bound stops
``voxbill serve`` with one line, before any process starts) and hands every process
the same bound peers. Connection caps (``VOXBILL_STREAM_*``) are each process's own:
the kernel spreads TCP connections over the processes, so a source may hold up to
N x ``stream_max_per_source`` connections in all.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import time
from multiprocessing.process import BaseProcess

from voxbill.bootstrap import build
from voxbill.domain.errors import PortUnavailable
from voxbill.protocols.peers import Peers
from voxbill.protocols.sip.running import SipThread, sip_server
from voxbill.serving import heap

_READY_SECONDS = 60.0
_PARENT_CHECK_SECONDS = 1.0


def serve_sip(
    host: str,
    port: int,
    ready: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
    peers: Peers | None = None,
) -> None:
    """One SIP process: its own container (settings from ``VOXBILL_*``), until ``stop``
    is set or the parent is gone (killed without the chance to set it). ``peers``: the
    parent's bound peers (None: bound here, from the same setting and database)."""
    parent = os.getppid()
    container = build()
    try:
        server = sip_server(container, host, port, peers=peers, reuse_port=True)
        heap.settle()
        thread = SipThread(server).start()
        ready.set()
        while not stop.wait(_PARENT_CHECK_SECONDS) and os.getppid() == parent:
            pass
        thread.stop()
    finally:
        container.close()


class SipProcesses:
    """``start()`` returns once every process listens, or raises why one does not."""

    def __init__(self, host: str, port: int, count: int, peers: Peers | None = None) -> None:
        if port == 0:
            raise ValueError("several SIP processes need a fixed port, not 0")
        self._peers = peers
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._host, self._port, self._count = host, port, count
        self._processes: list[tuple[BaseProcess, multiprocessing.synchronize.Event]] = []

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> SipProcesses:
        for number in range(self._count):
            ready = self._context.Event()
            process = self._context.Process(
                target=serve_sip,
                args=(self._host, self._port, ready, self._stop, self._peers),
                name=f"voxbill-sip-{number}",
                daemon=True,
            )
            process.start()
            self._processes.append((process, ready))
        deadline = time.monotonic() + _READY_SECONDS
        for child, ready in self._processes:
            while not ready.wait(0.1) and child.is_alive() and time.monotonic() < deadline:
                pass  # a process that failed to bind is dead: no need to wait it out
            if not ready.is_set() or not child.is_alive():
                self.stop()
                raise PortUnavailable(
                    f"SIP cannot listen on {self._host}:{self._port}: process {child.name} "
                    f"did not start (exit code {child.exitcode}); see its log above"
                )
        return self

    def stop(self) -> None:
        self._stop.set()
        for child, _ in self._processes:
            child.join(timeout=10)
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)
