"""The SMTP channel against a real SMTP server (aiosmtpd): authentication from the URL,
the sender and event headers, and a refused login as a failed attempt."""

from __future__ import annotations

import socket
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from voxbill.gateways.notify.email import SmtpSender
from voxbill.services.notify.channels import DeliveryFailed, OutgoingMessage


class _Handler:
    def __init__(self) -> None:
        self.mail: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.mail.append((session.auth_data, message_from_bytes(envelope.content)))
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"u@x", b"p:w")
    return AuthResult(success=ok, auth_data=data.login if ok else None)


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _message() -> OutgoingMessage:
    return OutgoingMessage(
        42,
        "balance.low",
        "owner@example.com",
        "Low balance",
        "Top up.",
        b"{}",
        None,
        sender_name="Reseller A",
        sender_address="billing@reseller.example",
    )


def test_login_from_the_url_and_headers() -> None:
    handler = _Handler()
    port = _port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        SmtpSender(f"smtp://u%40x:p%3Aw@127.0.0.1:{port}", "noc@x.example").send(_message())
        # refused (535), or the server hangs up on it: a failed attempt either way
        wrong = SmtpSender(
            f"smtp://u%40x:wrong@127.0.0.1:{port}", "noc@x.example", timeout_seconds=2
        )
        with pytest.raises(DeliveryFailed, match="SMTP"):
            wrong.send(_message())
    finally:
        controller.stop()
    ((login, mail),) = handler.mail
    assert login == b"u@x"
    assert mail["From"] == "Reseller A <billing@reseller.example>"
    assert mail["X-Voxbill-Event-Id"] == "42"
    assert mail.get_payload().strip() == "Top up."


def test_no_server_configured_is_a_failed_attempt() -> None:
    with pytest.raises(DeliveryFailed, match="VOXBILL_SMTP_URL"):
        SmtpSender(None, "noc@x.example").send(_message())
