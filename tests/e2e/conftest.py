"""End-to-end fixtures over the real ``voxbill`` command and server.

* ``voxbill_env`` — an environment whose ``VOXBILL_DATABASE_URL`` is a fresh SQLite file;
* ``run_voxbill`` — ``run_voxbill("rates", "import", …)`` runs the command line in it, in
  this process (``cli_runner``: the output and exit status a process would give, without
  its seconds of start-up); ``voxbill_process`` is the same over the installed command, in
  a process of its own, for what only a process shows (start-up, signals);
* ``voxbill_server`` — ``base_url = voxbill_server()`` starts ``voxbill serve`` on a free
  port (call it after loading data) once ``/api/v1/health`` answers; stopped after the test.

Plain helpers (``runner``, ``cli_runner``, ``sqlite_env``, ``start_server``) are in
``support.voxbill_process``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.voxbill_process import (
    RunVoxbill,
    StartServer,
    cli_runner,
    runner,
    sqlite_env,
    start_server,
    stop_server,
)


@pytest.fixture
def voxbill_env(tmp_path: Path) -> dict[str, str]:
    return sqlite_env(tmp_path)


@pytest.fixture
def run_voxbill(voxbill_env: dict[str, str], tmp_path: Path) -> RunVoxbill:
    return cli_runner(voxbill_env, tmp_path)


@pytest.fixture
def voxbill_process(voxbill_env: dict[str, str], tmp_path: Path) -> RunVoxbill:
    return runner(voxbill_env, tmp_path)


@pytest.fixture
def voxbill_server(voxbill_env: dict[str, str], tmp_path: Path) -> Iterator[StartServer]:
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> str:
        base_url, process = start_server(voxbill_env, tmp_path)
        processes.append(process)
        return base_url

    try:
        yield start
    finally:
        for process in processes:
            stop_server(process)
