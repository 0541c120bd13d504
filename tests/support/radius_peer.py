"""A RADIUS server in-process on free ports, and the real ``radclient`` talking to it.

``running_radius`` starts voxbill's RADIUS listeners (auth PORT, accounting PORT+1) on
their own thread, its clients bound to the database's operators as ``voxbill serve``
binds them; ``radclient`` runs Debian's freeradius-utils client once and parses what it
printed (``None`` when no reply came: the server dropped the packet; a reply radclient
could not verify with its secret is ``Reply("unverified")``: it came, and its
attributes travelled in the clear all the same). Access-Requests
carry a Message-Authenticator unless a test says ``signed=False``; ``source`` picks the
loopback address radclient sends from (``Packet-Src-IP-Address``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from voxbill.bootstrap import Container
from voxbill.protocols.radius import RadiusClients, RadiusServer, RadiusThread
from voxbill.protocols.session_scope import scope_of

SECRET = "testing123"
RADCLIENT = shutil.which("radclient")


def require_radclient() -> str:
    if RADCLIENT is None:
        pytest.skip(
            "SKIPPED LOUDLY: radclient missing (Debian freeradius-utils, scripts/install-peers)"
        )
    return RADCLIENT


def free_udp_pair() -> int:
    """A port P with P and P+1 both free for UDP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            if port >= 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no pair of free UDP ports")


@contextlib.contextmanager
def running_radius(
    container: Container, clients: str = f"127.0.0.1/32={SECRET}", *, unsigned: str = ""
) -> Iterator[int]:
    """Serve RADIUS over ``container``'s services; yields the auth port."""
    port = free_udp_pair()
    parsed = RadiusClients.parse(clients, unsigned=unsigned)
    bound = parsed.bound(container.accounts.operator_ids())
    server = RadiusServer(container.charging, bound, port=port, scope=scope_of(container))
    thread = RadiusThread(server).start()
    try:
        yield port
    finally:
        thread.stop()


@dataclass
class Reply:
    code: str  # "Access-Accept", "Access-Reject", "Accounting-Response"
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def one(self, name: str) -> str:
        (value,) = self.attributes[name]
        return value


def radclient(
    port: int,
    kind: str,
    attributes: dict[str, str | int],
    secret: str = SECRET,
    *,
    signed: bool = True,
    source: str | None = None,
    wait: float = 5,
) -> Reply | None:
    """Send one request with ``radclient -x -t WAIT -r 1``; the parsed reply or ``None``.
    ``signed``: an Access-Request gets a Message-Authenticator (radclient computes it).
    ``wait``: seconds for the reply (radclient returns as soon as it comes; a test that
    expects none passes a short wait, which can only make it pass more slowly)."""
    attributes = dict(attributes)
    if kind == "auth" and signed:
        attributes.setdefault("Message-Authenticator", "0x00")
    if source is not None:
        attributes["Packet-Src-IP-Address"] = source
    line = ", ".join(
        f'{name} = "{value}"'
        if isinstance(value, str) and not value.startswith("0x") and name != "Packet-Src-IP-Address"
        else f"{name} = {value}"
        for name, value in attributes.items()
    )
    target = f"127.0.0.1:{port + 1 if kind == 'acct' else port}"
    done = subprocess.run(
        [require_radclient(), "-x", "-t", str(wait), "-r", "1", target, kind, secret],
        input=line + "\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return parse_radclient(done.stdout + done.stderr)


def parse_radclient(output: str) -> Reply | None:
    reply: Reply | None = None
    for raw in output.splitlines():
        if "Reply verification failed" in raw:
            return Reply("unverified")
        if raw.startswith("Received "):
            reply = Reply(raw.split()[1])
        elif reply is not None and raw.startswith("\t") and " = " in raw:
            name, value = raw.strip().split(" = ", 1)
            reply.attributes.setdefault(name, []).append(value.strip('"'))
    return reply
