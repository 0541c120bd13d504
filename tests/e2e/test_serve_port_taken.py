"""``voxbill serve`` with a protocol door whose port another socket holds: it stops at
once, non-zero, with one line naming the door and the address, instead of serving HTTP
without that door (issue 11: the Diameter thread was suspected of swallowing this)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.radius_peer import SECRET, free_udp_pair
from support.voxbill_process import VOXBILL, cli_runner, free_port


@contextmanager
def holding(kind: int, port: int) -> Iterator[None]:
    """A real socket bound to 127.0.0.1:``port`` (listening, for TCP) until the end."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", port))
        if kind == socket.SOCK_STREAM:
            sock.listen()
        yield


@pytest.mark.parametrize(
    ("option", "kind", "door", "address"),
    [
        ("--diameter", socket.SOCK_STREAM, "Diameter", "127.0.0.1:{port}"),
        ("--sip", socket.SOCK_DGRAM, "SIP", "127.0.0.1:{port}"),
        ("--radius", socket.SOCK_DGRAM, "RADIUS", "127.0.0.1:{port} and 127.0.0.1:{next}"),
    ],
)
def test_serve_stops_with_one_line_when_a_door_port_is_taken(
    voxbill_env: dict[str, str],
    tmp_path: Path,
    option: str,
    kind: int,
    door: str,
    address: str,
) -> None:
    env = voxbill_env | {"VOXBILL_RADIUS_CLIENTS": f"127.0.0.0/8={SECRET}"}
    cli_runner(env, tmp_path)("init", "--operator", "Acme", "--json", check=True)
    port = free_udp_pair()
    args = ["serve", "--host", "127.0.0.1", "--port", str(free_port()), option, str(port)]
    with holding(kind, port):
        refused = subprocess.run(
            [str(VOXBILL), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert refused.returncode == 1, refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    where = address.format(port=port, next=port + 1)
    assert line == (
        f"error: {door} cannot listen on {where}: address already in use [port_unavailable]"
    )


def test_serve_with_sip_processes_stops_with_one_line_when_the_port_is_taken(
    voxbill_env: dict[str, str], tmp_path: Path
) -> None:
    cli_runner(voxbill_env, tmp_path)("init", "--operator", "Acme", "--json", check=True)
    port = free_udp_pair()
    args = ["serve", "--host", "127.0.0.1", "--port", str(free_port())]
    args += ["--sip", str(port), "--sip-processes", "2"]
    with holding(socket.SOCK_DGRAM, port):
        refused = subprocess.run(
            [str(VOXBILL), *args],
            env=voxbill_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert refused.returncode == 1, refused.stderr
    last = refused.stderr.strip().splitlines()[-1]  # after the failed process's own log
    assert last.startswith(f"error: SIP cannot listen on 127.0.0.1:{port}: process voxbill-sip-")
    assert last.endswith("[port_unavailable]")
