"""Email over SMTP (the standard library's ``smtplib``), configured by one URL
(``VOXBILL_SMTP_URL``): ``smtp://host:25`` (plain), ``smtp+starttls://user:pass@host:587``
(STARTTLS, then login), ``smtps://user:pass@host:465`` (TLS from the start). User and
password are URL-decoded."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import unquote, urlsplit

from voxbill.services.notify.channels import DeliveryFailed, OutgoingMessage

_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in _PORTS or not parts.hostname:
            raise ValueError(
                "VOXBILL_SMTP_URL is smtp://host[:port], smtp+starttls://… or smtps://…"
            )
        return cls(
            parts.scheme,
            parts.hostname,
            parts.port or _PORTS[parts.scheme],
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )


class SmtpSender:
    def __init__(
        self, smtp_url: str | None, mail_from: str, *, timeout_seconds: float = 10.0
    ) -> None:
        self._server = SmtpServer.parse(smtp_url) if smtp_url else None
        self._from = mail_from
        self._timeout = timeout_seconds

    def check_target(self, target: str) -> None:
        return None

    def _message(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage()
        address = message.sender_address or self._from
        mail["From"] = (
            formataddr((message.sender_name, address)) if message.sender_name else address
        )
        mail["To"] = message.target
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(f"voxbill-event-{message.event_id}")
        mail["X-Voxbill-Event-Id"] = str(message.event_id)
        mail["X-Voxbill-Event-Type"] = message.event_type
        mail.set_content(message.text)
        return mail

    def send(self, message: OutgoingMessage) -> None:
        server = self._server
        if server is None:
            raise DeliveryFailed("no SMTP server configured (VOXBILL_SMTP_URL)")
        mail = self._message(message)
        try:
            smtp: smtplib.SMTP
            if server.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(
                    server.host,
                    server.port,
                    timeout=self._timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(server.host, server.port, timeout=self._timeout)
            with smtp:
                if server.scheme == "smtp+starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if server.username:
                    smtp.login(server.username, server.password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP: {type(exc).__name__}: {exc}") from exc
