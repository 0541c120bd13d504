"""Password reset by emailed link (docs/portal.md, "Password reset") on SQLite and
PostgreSQL, the email going through the notification service's email channel to a real
SMTP server (aiosmtpd): the same answer for any address, throttled, a single-use link
stored hashed that expires, the new password ending the user's sessions, CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from portal_world import PASSWORD, World, csrf_of, sign_in, snapshot
from sqlalchemy import inspect

from support.notify_world import FakeClock, Mailbox, rewire, smtp_server
from voxbill.domain.access import Principal, Role
from voxbill.domain.notify import Channel
from voxbill.services.access.resets import PasswordResets
from voxbill.services.notify.branding import TemplateFields
from voxbill.settings import Settings
from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import upgrade
from voxbill.storage.schema import metadata

BASE = "https://billing.example.com"
_LINK = re.compile(re.escape(BASE) + r"/portal/reset/([A-Za-z0-9_-]+)")
NEW_PASSWORD = "a brand new passphrase"


class Reset:
    def __init__(self, world: World, mailbox: Mailbox) -> None:
        self.world = world
        self.mailbox = mailbox
        self.clock = FakeClock()
        container = world.container
        rewire(container, smtp_url=mailbox.url, portal_url=BASE, mail_from="billing@example.com")
        assert container.portal_failures is not None
        container.password_resets = PasswordResets(
            container.uow,
            container.settings,
            failures=container.portal_failures,
            notifier=lambda: container.notify,
            clock=self.clock,
        )

    def ask(self, email: str, client: TestClient | None = None) -> Any:
        browser = client or self.world.client()
        page = browser.get("/portal/forgot")
        assert page.status_code == 200, page.text
        return browser.post(
            "/portal/forgot", data={"csrf_token": csrf_of(page.text), "email": email}
        )

    def token(self) -> str:
        (message,) = self.mailbox.messages
        found = _LINK.search(_text(message))
        assert found is not None, _text(message)
        return found.group(1)


def _text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode()
    return "".join(_text(part) for part in message.walk() if part is not message)


@pytest.fixture
def reset(world: World) -> Iterator[Reset]:
    with smtp_server() as mailbox:
        yield Reset(world, mailbox)


def _set(client: TestClient, token: str, password: str, confirm: str | None = None) -> Any:
    page = client.get("/portal/login")
    data = {"csrf_token": csrf_of(page.text), "password": password, "confirm": confirm or password}
    return client.post(f"/portal/reset/{token}", data=data)


def test_a_reset_link_is_emailed_and_works_once(world: World, reset: Reset) -> None:
    signed_in = world.signed_in("customer_a")  # a session the reset ends
    assert signed_in.get("/portal/").status_code == 200
    login = world.client().get("/portal/login").text
    assert 'href="/portal/forgot"' in login

    email = world.emails["customer_a"]
    answer = reset.ask(email.upper())
    assert answer.status_code == 200
    neutral = re.search(r'data-testid="neutral">([^<]+)<', answer.text)
    assert neutral is not None
    assert reset.mailbox.recipients == [[email]]
    (message,) = reset.mailbox.messages
    assert message["Subject"] == "Reset your portal password"
    assert "billing@example.com" in message["From"]
    token = reset.token()
    assert token not in repr(snapshot(world.container))  # stored hashed only

    unknown = reset.ask("nobody@example.com")
    assert unknown.status_code == 200
    assert neutral.group(1) in unknown.text
    assert len(reset.mailbox.messages) == 1  # nothing sent, nothing said

    client = world.client()
    page = client.get(f"/portal/reset/{token}")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    before = snapshot(world.container)
    differ = _set(client, token, NEW_PASSWORD, "something else entirely")
    assert differ.status_code == 422
    assert "differ" in differ.text
    short = _set(client, token, "short")
    assert short.status_code == 422
    assert "at least 10 characters" in short.text
    forged = client.post(
        f"/portal/reset/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert forged.status_code == 403
    assert snapshot(world.container) == before  # the link still works

    done = _set(client, token, NEW_PASSWORD)
    assert done.status_code == 303
    assert done.headers["location"] == "/portal/login?done=password-changed"
    assert signed_in.get("/portal/").status_code == 303  # its sessions ended
    assert sign_in(world.client(), email, PASSWORD).status_code == 401
    assert sign_in(world.client(), email, NEW_PASSWORD).status_code == 303

    again = world.client().get(f"/portal/reset/{token}")
    assert again.status_code == 410
    assert 'data-testid="gone"' in again.text
    assert _set(world.client(), token, "yet another passphrase").status_code == 410
    assert sign_in(world.client(), email, NEW_PASSWORD).status_code == 303
    assert world.client().get("/portal/reset/not-a-token").status_code == 410


def test_an_expired_link_is_refused(world: World, reset: Reset) -> None:
    email = world.emails["reseller_a"]
    assert reset.ask(email).status_code == 200
    token = reset.token()
    reset.clock.advance(minutes=61)
    client = world.client()
    assert client.get(f"/portal/reset/{token}").status_code == 410
    login = client.get("/portal/login")
    refused = client.post(
        f"/portal/reset/{token}",
        data={"csrf_token": csrf_of(login.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert refused.status_code == 410
    assert sign_in(world.client(), email, PASSWORD).status_code == 303  # unchanged


def test_a_newer_reset_uses_up_the_older_links(world: World, reset: Reset) -> None:
    email = world.emails["admin"]
    reset.ask(email)
    first = reset.token()
    reset.mailbox.messages.clear()
    reset.ask(email)
    second = reset.token()
    assert _set(world.client(), second, NEW_PASSWORD).status_code == 303
    assert world.client().get(f"/portal/reset/{first}").status_code == 410


def test_asking_is_throttled_like_signing_in(world: World, reset: Reset) -> None:
    limit = world.container.settings.portal_login_limit
    for _ in range(limit):
        assert reset.ask("nobody@example.com").status_code == 200
    throttled = reset.ask("nobody@example.com")
    assert throttled.status_code == 429
    assert "retry-after" in throttled.headers
    # the same for an address a user has: the answer never tells them apart
    assert reset.ask(world.emails["customer_a"]).status_code == 429
    assert reset.mailbox.messages == []


def test_csrf_and_not_set_up(world: World, reset: Reset) -> None:
    client = world.client()
    client.get("/portal/forgot")
    forged = client.post("/portal/forgot", data={"email": world.emails["customer_a"]})
    assert forged.status_code == 403
    wrong = client.post(
        "/portal/forgot", data={"csrf_token": "forged", "email": world.emails["customer_a"]}
    )
    assert wrong.status_code == 403
    assert reset.mailbox.messages == []

    container = world.container
    settings = container.settings.model_copy(update={"portal_url": None})
    assert container.portal_failures is not None
    failures = container.portal_failures
    container.password_resets = PasswordResets(
        container.uow, settings, failures=failures, notifier=lambda: container.notify
    )
    page = world.client().get("/portal/forgot")
    assert page.status_code == 404
    assert "not set up" in page.text


def test_the_reset_link_is_not_built_from_the_host_header(world: World, reset: Reset) -> None:
    client = world.client()
    page = client.get("/portal/forgot", headers={"Host": "evil.example"})
    client.post(
        "/portal/forgot",
        data={"csrf_token": csrf_of(page.text), "email": world.emails["customer_a"]},
        headers={"Host": "evil.example"},
    )
    (message,) = reset.mailbox.messages
    assert "evil.example" not in _text(message)
    assert reset.token()


def _brand(world: World, account: int, event_type: str, name: str, address: str) -> None:
    system = Principal(world.root, f"/{world.root}/", Role.ADMIN)
    fields = TemplateFields("ignored {{ type }}", "no link here", name, address)
    world.container.notify_templates.put(system, account, event_type, Channel.EMAIL, fields)


def test_the_email_is_sent_under_the_nearest_reseller_s_branding(
    world: World, reset: Reset
) -> None:
    """The sender of the user's nearest operator or reseller with an email template
    ("*", as notifications choose it): its name and address; the shipped subject and
    text (with the link), never the template's; no template anywhere: the server's."""
    _brand(world, world.root, "*", "Acme Telecom", "billing@acme.example")
    _brand(world, world.reseller_a, "*", "Reseller A Voice", "help@reseller-a.example")
    # a template for one event only is not the reset's: reseller B's users get Acme's
    _brand(world, world.reseller_b, "balance.low", "Not This", "no@reseller-b.example")
    cases = {
        "customer_a": ("Reseller A Voice <help@reseller-a.example>", "Reseller A Voice"),
        "reseller_a": ("Reseller A Voice <help@reseller-a.example>", "Reseller A Voice"),
        "reseller_b": ("Acme Telecom <billing@acme.example>", "Acme Telecom"),
        "admin": ("Acme Telecom <billing@acme.example>", "Acme Telecom"),
    }
    for who, (sender, name) in cases.items():
        reset.mailbox.messages.clear()
        reset.mailbox.recipients.clear()
        assert reset.ask(world.emails[who]).status_code == 200
        (message,) = reset.mailbox.messages
        assert message["From"] == sender, who
        assert message["Subject"] == f"Reset your {name} portal password", who
        assert _LINK.search(_text(message)) is not None, who  # the shipped text
        assert "no link here" not in _text(message)


def test_without_branding_the_server_s_sender_is_used(world: World, reset: Reset) -> None:
    _brand(world, world.reseller_b, "*", "Reseller B", "hello@reseller-b.example")
    assert reset.ask(world.emails["customer_a"]).status_code == 200
    (message,) = reset.mailbox.messages
    assert message["From"] == "billing@example.com"
    assert message["Subject"] == "Reset your portal password"


def test_the_portal_url_setting_is_checked() -> None:
    assert Settings(portal_url="https://b.example.com/").portal_url == "https://b.example.com"
    with pytest.raises(ValueError, match="VOXBILL_PORTAL_URL"):
        Settings(portal_url="b.example.com")
    assert timedelta(seconds=Settings().portal_reset_seconds) == timedelta(hours=1)


def test_0026_up_and_down(database_url: str) -> None:
    """Migration 0026: ``portal_password_resets`` matches the schema; the downgrade drops
    it."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0025")
        assert "portal_password_resets" not in inspect(engine).get_table_names()
        upgrade(engine, "0026")
        assert "portal_password_resets" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if "portal_password_resets" in repr(d)] == []
        migrate.downgrade(engine, "0025")
        assert "portal_password_resets" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
