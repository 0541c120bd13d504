"""The HTTP door's limits through a real ``voxbill serve`` and raw sockets.

A key before the body (a never-ending chunked body without a key is answered 401 and
cut off, the server's memory flat), body limits on ``Content-Length`` and on chunked
bodies (a chunked deck upload too), a body that stops arriving, a head that never
ends or never completes, idle connections, connections per source, and failed keys
per source. Timeouts are set small; every wait is a deadline-polled condition with
ample headroom, never a measured duration.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.voxbill_process import cli_runner, sqlite_env, start_server, stop_server

DEADLINE = 60.0  # seconds any expected answer or close may take, on a loaded machine
DECK = "prefix,rate,destination\n44,0.10,UK\n"


@dataclass
class Server:
    port: int
    key: str
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


def _serve(tmp: Path, **settings: str) -> Iterator[Server]:
    env = sqlite_env(tmp)
    env.update({f"VOXBILL_{k.upper()}": v for k, v in settings.items()})
    run = cli_runner(env, tmp)
    init = run("init", "--operator", "Acme", "--currency", "USD", "--json", check=True)
    key = json.loads(init.stdout)["api_key"]
    base_url, process = start_server(env, tmp)
    try:
        yield Server(int(base_url.rsplit(":", 1)[1]), key, process)
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(
        tmp_path_factory.mktemp("limits"),
        max_body_bytes="65536",
        max_deck_bytes="131072",
        http_body_timeout_seconds="1",
        http_header_timeout_seconds="1",
        http_max_header_bytes="8192",
        http_keep_alive_seconds="1",
        auth_failure_limit="5",
        hot_cache_seconds="60",
    )


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
    return sock


def _head(path: str, *headers: str, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: voxbill", *headers, "", ""]
    return "\r\n".join(lines).encode()


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response: status, headers (lower-case names), body (by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of the answer"
        body += chunk
    return int(status_line.split()[1]), headers, body


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed the connection (read until EOF or reset)."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


class EndlessChunks(threading.Thread):
    """Sends chunk after chunk until the connection breaks or :meth:`halt`; ``sent``."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.sent = 0
        self.stop = threading.Event()

    def halt(self) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):  # wakes a send blocked on a full buffer
            self.sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
        while not self.stop.is_set():
            try:
                self.sock.sendall(chunk)
            except TimeoutError:
                continue
            except OSError:  # broken pipe, reset: the server closed it
                return
            self.sent += len(chunk)


def test_no_key_and_an_endless_chunked_body_is_401_and_cut_off(server: Server) -> None:
    rss_before = server.rss_kib()
    for _ in range(3):
        sock = _connect(server)
        sock.sendall(
            _head(
                "/api/v1/accounts",
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            )
        )
        sender = EndlessChunks(sock)
        sender.start()
        try:
            status, headers, body = _response(sock)
            assert status == 401, body
            assert json.loads(body)["code"] == "unauthorized"
            assert headers["connection"] == "close"
            assert headers["www-authenticate"] == "Bearer"
            assert _closed(sock)
            sender.join(DEADLINE)
            assert not sender.is_alive()  # the server hung up on it
        finally:
            sender.halt()
            sock.close()
        # only what the server's buffer and the kernel's socket buffers took (a few MB)
        assert sender.sent < 32 * 1024 * 1024
    assert server.rss_kib() - rss_before < 50 * 1024


def test_no_key_and_a_huge_content_length_is_401_before_the_body(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(
            _head("/api/v1/rate-plans/p/deck", "Content-Type: text/csv", "Content-Length: 10485760")
        )
        status, headers, body = _response(sock)
        assert status == 401, body
        assert headers["connection"] == "close"
        assert _closed(sock)


def test_malformed_json_without_a_key_is_401(server: Server) -> None:
    for path in ("/api/v1/accounts", "/api/v1/calls/authorize", "/api/v1/fx-rates"):
        response = httpx.post(
            f"http://127.0.0.1:{server.port}{path}",
            content=b'{"name": ',
            headers={"content-type": "application/json"},
            timeout=DEADLINE,
        )
        assert response.status_code == 401, (path, response.text)
        assert response.json()["code"] == "unauthorized"


def _chunked(sock: socket.socket, data: bytes, size: int = 16384) -> None:
    for start in range(0, len(data), size):
        part = data[start : start + size]
        sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    sock.sendall(b"0\r\n\r\n")


def test_a_chunked_deck_over_the_limit_is_413(server: Server) -> None:
    auth = f"Authorization: Bearer {server.key}"
    small = (DECK + "".join(f"{44000 + i},0.10,UK\n" for i in range(100))).encode()
    with _connect(server) as sock:  # under the limit, chunked: imported
        sock.sendall(
            _head(
                "/api/v1/rate-plans/retail/deck?currency=USD",
                auth,
                "Content-Type: text/csv",
                "Transfer-Encoding: chunked",
            )
        )
        _chunked(sock, small)
        status, _, body = _response(sock)
        assert status == 201, body
    big = (DECK + "".join(f"{440000 + i},0.10,UK\n" for i in range(20000))).encode()
    assert len(big) > 131072
    with _connect(server) as sock:
        sock.sendall(
            _head(
                "/api/v1/rate-plans/retail/deck?currency=USD",
                auth,
                "Content-Type: text/csv",
                "Transfer-Encoding: chunked",
            )
        )
        sender = EndlessChunks(sock)  # never ends: refused once past the limit
        sender.start()
        try:
            status, headers, body = _response(sock)
            assert status == 413, body
            assert json.loads(body)["code"] == "payload_too_large"
            assert headers["connection"] == "close"
            assert _closed(sock)
        finally:
            sender.halt()
    with _connect(server) as sock:  # announced: refused before the body is read
        sock.sendall(
            _head(
                "/api/v1/rate-plans/retail/deck?currency=USD",
                auth,
                "Content-Type: text/csv",
                f"Content-Length: {len(big)}",
            )
        )
        status, headers, body = _response(sock)
        assert status == 413, body
        assert headers["connection"] == "close"


def test_a_json_body_over_the_limit_is_413_chunked_or_not(server: Server) -> None:
    auth = f"Authorization: Bearer {server.key}"
    for framing in ("Transfer-Encoding: chunked", "Content-Length: 70000"):
        with _connect(server) as sock:
            sock.sendall(_head("/api/v1/accounts", auth, "Content-Type: application/json", framing))
            sender = EndlessChunks(sock)
            if framing.startswith("Transfer"):
                sender.start()
            try:
                status, headers, body = _response(sock)
                assert status == 413, (framing, body)
                assert json.loads(body)["code"] == "payload_too_large"
                assert headers["connection"] == "close"
            finally:
                sender.halt()
    # the calls' fast lane reads its body under the same limit
    with _connect(server) as sock:
        sock.sendall(
            _head(
                "/api/v1/calls/authorize",
                auth,
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            )
        )
        sender = EndlessChunks(sock)
        sender.start()
        try:
            status, _, body = _response(sock)
            assert status == 413, body
            assert _closed(sock)
        finally:
            sender.halt()


def test_a_body_that_stops_arriving_is_408_and_the_connection_closed(server: Server) -> None:
    auth = f"Authorization: Bearer {server.key}"
    for path in ("/api/v1/accounts", "/api/v1/calls/authorize"):
        with _connect(server) as sock:
            sock.sendall(_head(path, auth, "Content-Type: application/json", "Content-Length: 100"))
            sock.sendall(b'{"name": "hal')  # and nothing more
            status, headers, body = _response(sock)
            assert status == 408, (path, body)
            assert json.loads(body)["code"] == "request_timeout"
            assert headers["connection"] == "close"
            assert _closed(sock)


def test_a_head_that_never_completes_is_cut_off(server: Server) -> None:
    with _connect(server) as silent, _connect(server) as half:
        half.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: voxbill\r\nX-Slow: a")
        assert _closed(silent)  # connected, never sent a byte
        assert _closed(half)  # half a head


def test_a_head_dripping_slowly_is_cut_off_at_its_deadline(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: voxbill\r\n")
        sock.settimeout(0.2)
        closed = False
        for _ in range(int(DEADLINE / 0.2)):  # a byte each 0.2 s: never idle for long
            try:
                sock.sendall(b"X-Drip: 1\r\n")
            except OSError:
                closed = True
                break
            try:
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except ConnectionResetError:
                closed = True
                break
        assert closed


def test_a_head_over_the_size_limit_is_431(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: voxbill\r\nX-Big: ")
        sock.sendall(b"a" * 20_000)  # over 8192, and never ends
        status, headers, _ = _response(sock)
        assert status == 431
        assert headers["connection"] == "close"
        assert _closed(sock)


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(_head("/api/v1/health", method="GET"))
        status, headers, _ = _response(sock)
        assert status == 200
        assert "close" not in headers.get("connection", "")
        assert _closed(sock)


def test_failed_keys_from_one_source_are_throttled(server: Server) -> None:
    url = f"{server.base}/rate-plans"

    def get(key: str, source: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}", "x-forwarded-for": source}
        return httpx.get(url, headers=headers, timeout=DEADLINE)

    attacker, neighbour = "203.0.113.7", "198.51.100.8"
    assert get(server.key, attacker).status_code == 200  # now in the key cache
    for _ in range(5):
        assert get("vbk_00000000_guess", attacker).status_code == 401
    throttled = get("vbk_00000000_guess", attacker)
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "too_many_auth_failures"
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert get(server.key, attacker).status_code == 200  # a cached valid key still passes
    assert get("vbk_00000000_guess", neighbour).status_code == 401  # another source


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(
        tmp_path_factory.mktemp("capped"),
        http_max_per_source="3",
        http_header_timeout_seconds="600",  # the held connections stay open meanwhile
    )


def _answers(server: Server) -> bool:
    """A new connection is admitted and answered (False: closed unanswered)."""
    with _connect(server) as sock:
        try:
            sock.sendall(_head("/api/v1/health", method="GET"))
            return _response(sock)[0] == 200
        except (AssertionError, OSError):
            return False


def test_connections_per_source_are_capped(capped: Server) -> None:
    held = [_connect(capped) for _ in range(3)]
    try:
        for sock in held:  # admitted: each answers a request
            sock.sendall(_head("/api/v1/health", method="GET"))
            assert _response(sock)[0] == 200
        with _connect(capped) as over:
            assert _closed(over)  # over the cap: closed before anything is read
        held.pop().close()
        deadline = time.monotonic() + DEADLINE
        while not _answers(capped):  # admitted again once the server saw the close
            assert time.monotonic() < deadline, "no connection admitted after one closed"
            time.sleep(0.1)
    finally:
        for sock in held:
            sock.close()
