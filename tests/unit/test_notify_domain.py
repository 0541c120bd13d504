"""Notifications' pure rules: targets, SSRF addresses, backoff, signatures, event names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from voxbill.domain.errors import InvalidInput
from voxbill.domain.notify import (
    EVENT_TYPES,
    Backoff,
    Channel,
    WebhookTargetForbidden,
    address_forbidden,
    allowed_hosts,
    check_events,
    check_target,
    event_type_of,
    signature,
    verify_signature,
)
from voxbill.gateways.notify.webhook import WebhookSender, resolve_allowed
from voxbill.services.notify.channels import DeliveryFailed, OutgoingMessage

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "169.254.169.254",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",  # CGNAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "fe80::1%eth0",
    ],
)
def test_internal_addresses_are_forbidden(address: str) -> None:
    assert address_forbidden(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert not address_forbidden(address)


@pytest.mark.parametrize(
    ("channel", "target"),
    [
        (Channel.EMAIL, "billing@example.com"),
        (Channel.SMS, "+447911123456"),
        (Channel.WEBHOOK, "https://hooks.example.com/voxbill?x=1"),
        (Channel.WEBHOOK, "http://hooks.example.com:8080/"),
    ],
)
def test_good_targets(channel: Channel, target: str) -> None:
    assert check_target(channel, f" {target} ") == target


@pytest.mark.parametrize(
    ("channel", "target"),
    [
        (Channel.EMAIL, "not-an-address"),
        (Channel.EMAIL, "a@b"),
        (Channel.EMAIL, "a b@example.com"),
        (Channel.SMS, "447911123456"),
        (Channel.SMS, "+0447911"),
        (Channel.SMS, "+44 7911 123456"),
        (Channel.WEBHOOK, "ftp://example.com/"),
        (Channel.WEBHOOK, "https:///path"),
        (Channel.WEBHOOK, "https://user:pw@example.com/"),
        (Channel.WEBHOOK, "https://example.com:99999/"),
        (Channel.WEBHOOK, "javascript:alert(1)"),
    ],
)
def test_bad_targets_are_invalid_input(channel: Channel, target: str) -> None:
    with pytest.raises(InvalidInput):
        check_target(channel, target)


def test_events_must_be_known_and_not_empty() -> None:
    assert check_events(["balance.low", "balance.low", "topup.received"]) == (
        "balance.low",
        "topup.received",
    )
    with pytest.raises(InvalidInput, match="balance.lowish"):
        check_events(["balance.lowish"])
    with pytest.raises(InvalidInput):
        check_events([])


def test_internal_topics_map_to_public_event_types() -> None:
    assert event_type_of("balance.alert_crossed_down") == "balance.low"
    assert event_type_of("balance.block_reached") == "balance.blocked"
    assert event_type_of("balance.restored") == "balance.restored"
    assert event_type_of("topup.received") == "topup.received"
    assert event_type_of("balance.alert_rearmed") is None
    assert event_type_of("card.pin_locked") is None
    assert "price.changed" in EVENT_TYPES


def test_backoff_doubles_with_jitter_then_gives_up() -> None:
    backoff = Backoff(max_attempts=5, base_seconds=30, max_seconds=100, jitter=0.2)
    assert backoff.after_failure(1, NOW, 0.0) == NOW + timedelta(seconds=30)
    assert backoff.after_failure(2, NOW, 0.0) == NOW + timedelta(seconds=60)
    assert backoff.after_failure(2, NOW, 1.0) == NOW + timedelta(seconds=72)
    assert backoff.after_failure(4, NOW, 0.5) == NOW + timedelta(seconds=110)  # capped
    assert backoff.after_failure(5, NOW, 0.0) is None  # dead


def test_signature_verifies_and_refuses_tampering_and_staleness() -> None:
    body = b'{"id":1}'
    header = signature("whsec_x", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert verify_signature("whsec_x", header, body, 1_700_000_100)
    assert not verify_signature("whsec_x", header, b'{"id":2}', 1_700_000_100)
    assert not verify_signature("whsec_y", header, body, 1_700_000_100)
    assert not verify_signature("whsec_x", header, body, 1_700_000_000 + 301)
    assert not verify_signature("whsec_x", "garbage", body, 1_700_000_000)


def test_allowed_hosts_setting() -> None:
    assert allowed_hosts(" 127.0.0.1, Hooks.Internal ,[::1],") == {
        "127.0.0.1",
        "hooks.internal",
        "::1",
    }


def _resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    return lambda host, port: answers[host]


def test_a_name_resolving_to_any_internal_address_is_refused() -> None:
    resolver = _resolver({"evil.example": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(WebhookTargetForbidden, match="10.0.0.7"):
        resolve_allowed("https://evil.example/hook", frozenset(), resolver)
    assert resolve_allowed("https://evil.example/", frozenset({"evil.example"}), resolver) is None
    ok = _resolver({"good.example": ["93.184.216.34"]})
    assert resolve_allowed("https://good.example/", frozenset(), ok) == "93.184.216.34"


def _message(target: str) -> OutgoingMessage:
    return OutgoingMessage(1, "balance.low", target, "s", "t", b'{"id":1}', "whsec_k")


def test_each_send_resolves_again_and_connects_to_the_checked_address() -> None:
    """DNS rebinding: public at subscription time, loopback at send time: not sent."""
    answers = {"rebind.example": ["93.184.216.34"]}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    sender = WebhookSender(
        frozenset(),
        resolver=_resolver(answers),
        transport=httpx.MockTransport(handler),
        unix_time=lambda: 1_700_000_000,
    )
    sender.check_target("https://rebind.example/hook")
    sender.send(_message("https://rebind.example/hook"))
    (request,) = seen
    assert request.url.host == "93.184.216.34"  # pinned to the checked address
    assert request.headers["host"] == "rebind.example"
    assert request.extensions["sni_hostname"] == "rebind.example"
    assert verify_signature(
        "whsec_k", request.headers["voxbill-signature"], b'{"id":1}', 1_700_000_000
    )
    answers["rebind.example"] = ["127.0.0.1"]
    with pytest.raises(DeliveryFailed, match="webhook_target_forbidden"):
        sender.send(_message("https://rebind.example/hook"))
    assert len(seen) == 1


def test_redirects_are_not_followed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://169.254.169.254/"})

    sender = WebhookSender(
        frozenset(),
        resolver=_resolver({"r.example": ["93.184.216.34"]}),
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(DeliveryFailed, match="HTTP 302"):
        sender.send(_message("http://r.example/"))
    assert seen == ["http://93.184.216.34/"]


def test_smtp_urls() -> None:
    from pydantic import ValidationError

    from voxbill.gateways.notify.email import SmtpServer
    from voxbill.settings import Settings

    assert SmtpServer.parse("smtps://u%40x:p%3Aw@mail.example:2465") == SmtpServer(
        "smtps", "mail.example", 2465, "u@x", "p:w"
    )
    assert SmtpServer.parse("smtp+starttls://mail.example").port == 587
    assert SmtpServer.parse("smtp://mail.example").port == 25
    with pytest.raises(ValidationError):
        Settings(smtp_url="http://mail.example")
    assert Settings(smtp_url="").smtp_url is None
