"""Log forging through the SIP door (issue 10, finding 19): a value from the wire is one
escaped, bounded piece of one log line.

The parser now refuses control characters, so a Call-ID with a newline no longer reaches
the door from the wire; the door escapes what it logs anyway (a request built by other
code, text that is printable to the parser but not to a terminal such as U+2028).
"""

from __future__ import annotations

import logging

import pytest

from voxbill.domain.errors import VoxbillError
from voxbill.protocols.log_safe import printable
from voxbill.protocols.session_scope import open_scope
from voxbill.protocols.sip.door import RedirectDoor
from voxbill.protocols.sip.message import SipRequest

FORGED = "c1\n2026-01-01 00:00:00 INFO voxbill: admin logged in\u2028\x1b[2J"


class Failing:
    """A charging and routing service that fails the way a busy database does."""

    def for_caller(self, *_: object) -> None:
        raise VoxbillError("database busy", code="database_busy")

    def session_account(self, _: str) -> int:
        raise RuntimeError("boom")


def request(method: str) -> SipRequest:
    return SipRequest(
        method,
        "sip:442079460000@h",
        [
            ("via", "SIP/2.0/UDP h;branch=z9hG4bK-1"),
            ("from", "<sip:441000000001@h>;tag=1"),
            ("to", "<sip:442079460000@h>"),
            ("call-id", FORGED),
            ("cseq", f"1 {method}"),
            ("x-voxbill-duration", "0"),
        ],
    )


def test_printable_escapes_and_bounds() -> None:
    assert printable("plain-call@10.0.0.1") == "plain-call@10.0.0.1"
    escaped = printable(FORGED)
    assert escaped.isprintable()
    assert "\\n" in escaped
    assert "\\u2028" in escaped
    assert "\\x1b" in escaped
    assert printable("x" * 500, limit=10) == "x" * 10 + "..."


@pytest.mark.parametrize("method", ["INVITE", "BYE"])
def test_the_door_logs_a_call_id_on_one_escaped_line(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    failing = Failing()
    door = RedirectDoor(failing, failing, scope=open_scope())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="voxbill.protocols.sip.door"):
        if method == "INVITE":
            assert door.invite(request(method), "127.0.0.1", 1).status == 503
        else:
            assert door.bye(request(method), 1).status == 503
    messages = [record.getMessage() for record in caplog.records]
    assert messages
    for message in messages:
        assert "\n" not in message
        assert "\u2028" not in message
        assert "\x1b" not in message
        assert "c1\\n2026-01-01" in message
