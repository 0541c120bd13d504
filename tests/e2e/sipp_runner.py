"""Running the real ``sipp`` (Debian ``sip-tester``) against voxbill's SIP server.

``run_sipp(scenario, port, caller=…, service=…)`` runs one scenario of ``tests/e2e/sipp``
and returns its exit status, the ``<log>`` lines the scenario wrote (values it captured
with ``<ereg>``) and the full message trace (every message sent and received).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "sipp"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"


def require_sipp() -> None:
    if not Path(SIPP).exists():
        pytest.skip("sipp is not installed (scripts/install-peers installs sip-tester): SKIPPED")


@dataclass
class SippRun:
    returncode: int
    logs: str
    messages: str
    output: str

    def responses(self) -> list[str]:
        """Status lines of the responses sipp received, in order."""
        return [line for line in self.messages.splitlines() if line.startswith("SIP/2.0 ")]


def run_sipp(
    scenario: str,
    port: int,
    workdir: Path,
    *,
    caller: str = "441000000001",
    service: str = "442079460000",
    transport: str = "u1",
    calls: int = 1,
    extra: tuple[str, ...] = (),
    timeout: int = 30,
) -> SippRun:
    stem = f"{scenario}-{len(list(workdir.glob('*.msg')))}"
    messages, logs = workdir / f"{stem}.msg", workdir / f"{stem}.log"
    command = [
        SIPP,
        f"127.0.0.1:{port}",
        "-sf",
        str(SCENARIOS / f"{scenario}.xml"),
        "-i",
        "127.0.0.1",
        "-t",
        transport,
        "-m",
        str(calls),
        "-s",
        service,
        "-key",
        "caller",
        caller,
        "-trace_msg",
        "-message_file",
        str(messages),
        "-trace_logs",
        "-log_file",
        str(logs),
        "-timeout",
        f"{timeout}s",
        "-recv_timeout",
        "10s",
        "-nostdin",
        *extra,
    ]
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=timeout + 30, check=False
    )
    return SippRun(
        done.returncode,
        logs.read_text() if logs.exists() else "",
        messages.read_text() if messages.exists() else "",
        done.stdout[-3000:] + done.stderr[-3000:],
    )
