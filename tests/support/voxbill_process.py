"""Running the real ``voxbill`` command and server, for end-to-end tests.

``sqlite_env`` and ``runner`` run the installed command against a fresh SQLite file;
``cli_runner`` runs the same command line in this process (same app, same environment,
same result type) for the tests that check only a command's output and exit status: a
``voxbill`` process takes seconds to start on a loaded machine, and those tests run many.
``start_server`` starts ``voxbill serve`` on a free port and waits for ``/api/v1/health``.
The fixtures over these live in ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

VOXBILL = Path(sys.executable).with_name("voxbill")
START_TIMEOUT_SECONDS = 60.0

RunVoxbill = Callable[..., subprocess.CompletedProcess[str]]
StartServer = Callable[[], str]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sqlite_env(directory: Path) -> dict[str, str]:
    """The current environment, with a fresh SQLite database in ``directory``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXBILL_")}
    env["VOXBILL_DATABASE_URL"] = f"sqlite:///{directory / 'e2e.db'}"
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return env


def runner(env: dict[str, str], cwd: Path) -> RunVoxbill:
    """``run(*args)``: the installed ``voxbill`` command with ``env``, in ``cwd``."""

    def run(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(VOXBILL), *args],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"voxbill {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    return run


def cli_runner(env: dict[str, str], cwd: Path) -> RunVoxbill:
    """``run(*args)`` as :func:`runner`'s, but the command line runs in this process
    (Typer's ``CliRunner`` over the same ``app``): the ``VOXBILL_*`` variables are exactly
    ``env``'s while it runs (the others removed), and the working directory is ``cwd``.
    For what a command prints and its exit status; a process's own behaviour (signals,
    ports, ``serve``, start-up) needs :func:`runner`."""
    from typer.testing import CliRunner

    from voxbill.cli.main import app

    def run(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        overrides: dict[str, str | None] = {
            name: None for name in os.environ if name.startswith("VOXBILL_")
        }
        overrides.update(env)
        with contextlib.chdir(cwd), _console_width(env.get("COLUMNS")):
            result = CliRunner().invoke(app, list(args), env=overrides, catch_exceptions=False)
        completed = subprocess.CompletedProcess(
            [str(VOXBILL), *args], result.exit_code, result.stdout, result.stderr
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"voxbill {' '.join(args)} exited {completed.returncode}:\n{completed.stderr}"
            )
        return completed

    return run


@contextlib.contextmanager
def _console_width(columns: str | None) -> Iterator[None]:
    """The CLI's Rich consoles read ``COLUMNS`` once, when made (at import): a process
    started with ``env`` would have this width."""
    from voxbill.cli.output import console, err_console

    if columns is None or not columns.isdigit():
        yield
        return
    before = console._width, err_console._width  # None: measured at each print
    console.width = err_console.width = int(columns)
    try:
        yield
    finally:
        console._width, err_console._width = before


def start_server(
    env: dict[str, str], cwd: Path, *extra: str
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start ``voxbill serve`` (with ``extra`` options) on a free port; its base URL once
    healthy, and the process."""
    port = free_port()
    log = (cwd / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [str(VOXBILL), "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, process)
    except AssertionError:
        stop_server(process)
        raise
    return base_url, process


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"voxbill serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"voxbill serve did not answer on {base_url} in time")
