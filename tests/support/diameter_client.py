"""A Gy client built from python-diameter's own Node (its CER/DWR/DPR state machine),
pointed at voxbill's server running in-process on a free port, its peers bound to the
database's operators as ``voxbill serve`` binds them.

Nothing here comes from ``voxbill.protocols.diameter`` except the server being tested.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from diameter.message import Avp, Message, MessageHeader
from diameter.message import constants as c
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.message.commands.credit_control import (
    RequestedServiceUnit,
    SubscriptionId,
    UsedServiceUnit,
)
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

from voxbill.bootstrap import Container
from voxbill.protocols.diameter import DiameterOptions, diameter_thread
from voxbill.protocols.diameter.options import PEERS_SETTING, parse_hosts
from voxbill.protocols.peers import Peers
from voxbill.serving.connections import ConnectionLimits

SERVER_HOST = "ocs.voxbill.test"
SERVER_REALM = "voxbill.test"
CLIENT_HOST = "pcscf.client.test"
CLIENT_REALM = "client.test"
_sessions = itertools.count(1)

logging.getLogger("diameter").setLevel(logging.CRITICAL)


@contextmanager
def diameter_server(
    container: Container,
    operator_id: int | None = None,
    *,
    peers: str = "",
    peer_hosts: str = "",
    limits: ConnectionLimits | None = None,
) -> Iterator[int]:
    """voxbill's Diameter door over ``container`` on a free port; yields the port.
    ``peers`` / ``peer_hosts``: VOXBILL_DIAMETER_PEERS / _PEER_HOSTS (empty: loopback,
    any Origin-Host); ``operator_id``: the deprecated VOXBILL_DIAMETER_OPERATOR_ID."""
    options = DiameterOptions(
        origin_host=SERVER_HOST,
        origin_realm=SERVER_REALM,
        port=0,
        peers=Peers.parse(peers, setting=PEERS_SETTING),
        peer_hosts=parse_hosts(peer_hosts),
        operator_id=operator_id,
        limits=limits or ConnectionLimits(),
    )
    door = diameter_thread(container, options).start()
    try:
        yield door.port
    finally:
        door.stop()


@dataclass(frozen=True)
class Cca:
    result_code: int
    granted_seconds: int | None
    granted_units: int | None
    validity_time: int | None
    final: bool
    cost: Decimal | None
    raw: Any


def read_cca(answer: Any) -> Cca:
    gsu, fui = answer.granted_service_unit, answer.final_unit_indication
    cost = None
    if answer.cost_information is not None:
        unit = answer.cost_information.unit_value
        cost = Decimal(unit.value_digits).scaleb(unit.exponent or 0)
    return Cca(
        result_code=answer.result_code,
        granted_seconds=None if gsu is None else gsu.cc_time,
        granted_units=None if gsu is None else gsu.cc_service_specific_units,
        validity_time=answer.validity_time,
        final=fui is not None and fui.final_unit_action == c.E_FINAL_UNIT_ACTION_TERMINATE,
        cost=cost,
        raw=answer,
    )


def build_ccr(
    session_id: str,
    request_type: int,
    number: int,
    *,
    ani: str | None = None,
    sip_uri: str | None = None,
    callee: str | None = None,
    used: int | None = None,
    units: int | None = None,
    retransmit: bool = False,
) -> CreditControlRequest:
    """A CCR as an IMS charging client sends it."""
    ccr = CreditControlRequest()
    ccr.session_id = session_id
    ccr.origin_host = CLIENT_HOST.encode()
    ccr.origin_realm = CLIENT_REALM.encode()
    ccr.destination_realm = SERVER_REALM.encode()
    ccr.service_context_id = "32274@3gpp.org" if units else "32260@3gpp.org"
    ccr.cc_request_type = request_type
    ccr.cc_request_number = number
    ids = []
    if ani:
        ids.append(SubscriptionId(c.E_SUBSCRIPTION_ID_TYPE_END_USER_E164, ani))
    if sip_uri:
        ids.append(SubscriptionId(c.E_SUBSCRIPTION_ID_TYPE_END_USER_SIP_URI, sip_uri))
    ccr.subscription_id = ids
    if callee:
        ccr.append_avp(Avp.new(c.AVP_CALLED_STATION_ID, value=callee))
    if used is not None:
        ccr.used_service_unit = [UsedServiceUnit(cc_time=used)]
    if request_type == c.E_CC_REQUEST_TYPE_EVENT_REQUEST:
        ccr.requested_action = c.E_REQUESTED_ACTION_DIRECT_DEBITING
        ccr.requested_service_unit = RequestedServiceUnit(cc_service_specific_units=units)
    ccr.header.is_retransmit = retransmit
    return ccr


class GyClient:
    """CCR-I / U / T / Event over a python-diameter Node peer connection."""

    def __init__(self, port: int) -> None:
        self.node = Node(CLIENT_HOST, CLIENT_REALM)
        self.node.wakeup_interval = 1
        self.node.product_name = "gy-test-client"
        self.peer = self.node.add_peer(
            f"aaa://{SERVER_HOST}:{port};transport=tcp",
            SERVER_REALM,
            ["127.0.0.1"],
            is_persistent=True,
        )
        self.app = SimpleThreadingApplication(
            c.APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True
        )
        self.node.add_application(self.app, [self.peer])

    def start(self) -> GyClient:
        self.node.start()
        self.app.wait_for_ready(15)  # CER sent, CEA accepted by the Node
        return self

    def stop(self) -> None:
        """DPR to the server; the Node waits until the server closed the connection."""
        self.node.stop(wait_timeout=10)

    @property
    def connection(self) -> Any:
        return self.peer.connection

    def new_session_id(self) -> str:
        return self.node.session_generator.next_id() + f";{next(_sessions)}"

    def request(self, session_id: str, request_type: int, number: int, **kw: Any) -> Any:
        return build_ccr(session_id, request_type, number, **kw)

    def send(self, ccr: CreditControlRequest) -> Cca:
        answer = self.app.send_request(ccr, timeout=15)
        assert isinstance(answer, CreditControlAnswer), answer
        return read_cca(answer)

    def initial(self, session_id: str, ani: str, callee: str) -> Cca:
        return self.send(self.request(session_id, 1, 0, ani=ani, callee=callee))

    def update(self, session_id: str, number: int, used: int, **kw: Any) -> Cca:
        return self.send(self.request(session_id, 2, number, used=used, **kw))

    def terminate(self, session_id: str, number: int, used: int, **kw: Any) -> Cca:
        return self.send(self.request(session_id, 3, number, used=used, **kw))

    def event(self, session_id: str, sender: str, recipient: str, units: int) -> Cca:
        ccr = self.request(session_id, 4, 0, ani=sender, callee=recipient, units=units)
        return self.send(ccr)

    def watchdog(self, timeout: float = 10) -> bool:
        """Send a DWR through the Node; True once its DWA came back."""
        conn = self.connection
        self.node.send_dwr(conn)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not conn.is_waiting_for_dwa:
                return True
            time.sleep(0.02)
        return False


@contextmanager
def gy_client(port: int) -> Iterator[GyClient]:
    client = GyClient(port).start()
    try:
        yield client
    finally:
        client.stop()


def frame(code: int, avps: list[Any], *, app: int = 0, hop: int = 1) -> bytes:
    """A request's bytes, coded by python-diameter."""
    header = MessageHeader(command_flags=0x80, command_code=code, application_id=app)
    header.hop_by_hop_identifier = header.end_to_end_identifier = hop
    return bytes(Message(header, avps).as_bytes())


def cer(origin_host: str | bytes = CLIENT_HOST) -> bytes:
    host = origin_host.encode() if isinstance(origin_host, str) else origin_host
    return frame(
        257,
        [
            Avp.new(c.AVP_ORIGIN_HOST, value=host),
            Avp.new(c.AVP_ORIGIN_REALM, value=CLIENT_REALM.encode()),
            Avp.new(c.AVP_AUTH_APPLICATION_ID, value=4),
        ],
    )


def ccr(session_id: str, request_type: int, number: int, **kw: Any) -> bytes:
    """A CCR's bytes (the same AVPs :meth:`GyClient.request` sends)."""
    request = build_ccr(session_id, request_type, number, **kw)
    request.auth_application_id = request.header.application_id = 4
    request.header.hop_by_hop_identifier = request.header.end_to_end_identifier = number + 1
    return bytes(request.as_bytes())


class RawPeer:
    """A Diameter peer on a plain TCP socket, sending from ``source`` (any loopback
    address): the bytes are python-diameter's, the timing is the test's."""

    def __init__(self, port: int, source: str = "127.0.0.1", timeout: float = 30) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout, (source, 0))

    def send(self, data: bytes) -> None:
        """Send; a connection the server already closed shows on the next read."""
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            self.sock.sendall(data)

    def receive(self) -> Any | None:
        """The next message, or None when the server closed the connection."""
        head = self._exactly(20)
        if head is None:
            return None
        body = self._exactly(int.from_bytes(head[1:4], "big") - 20)
        return None if body is None else Message.from_bytes(head + body)

    def closed_by_server(self) -> bool:
        """True once the server closed (end of stream or reset), within the socket's
        timeout; False if it sent something instead."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def exchange(self, data: bytes) -> Any | None:
        self.send(data)
        return self.receive()

    def close(self) -> None:
        self.sock.close()

    def _exactly(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            try:
                chunk = self.sock.recv(size - len(data))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            data += chunk
        return data
