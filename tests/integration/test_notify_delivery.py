"""Notifications delivered at least once and never again after a recorded success,
with real parts: a real HTTP receiver, a real SMTP server, SQLite and PostgreSQL.
The worker runs on a clock the test moves: nothing sleeps."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from support.ledger_accounts import open_account
from support.notify_world import FakeClock, http_receiver, rewire, smtp_server
from voxbill.bootstrap import Container, build
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import InsufficientFunds
from voxbill.domain.notify import Channel, DeliveryStatus, verify_signature
from voxbill.settings import Settings

OPERATOR = "admin:test"


def _admin(account_id: int) -> Principal:
    return Principal(account_id, f"/{account_id}/", Role.ADMIN)


def _subscribe(
    container: Container, owner: int, account_id: int, channel: Channel, target: str, **kw: object
) -> tuple[int, str | None]:
    made = container.subscriptions.create(
        _admin(owner),
        account_id,
        channel=channel,
        target=target,
        events=list(kw.get("events", ["balance.low"])),  # type: ignore[call-overload]
        subtree=bool(kw.get("subtree", False)),
    )
    return made.subscription.id, made.secret


def _cross_alert(container: Container, account: int) -> None:
    container.ledger.top_up(account, D("10"), actor=OPERATOR)
    container.ledger.adjust(account, D("-6"), "usage", actor=OPERATOR)  # 10 -> 4 < 5


def _topups(container: Container, account: int, count: int) -> None:
    """``count`` events as the payments context writes them (one transaction each)."""
    for i in range(count):
        with container.uow.transaction() as tx:
            payload = {"amount": f"{i + 1}.00", "currency": "EUR", "payment_id": f"p{i}"}
            tx.ledger.add_outbox_event(
                "topup.received", account, json.dumps(payload), datetime.now(UTC)
            )


def test_fan_out_reaches_the_account_and_the_ancestors_that_take_their_subtree(
    container: Container,
) -> None:
    rewire(container, FakeClock())
    reseller = open_account(container.db, kind="reseller")
    customer = open_account(container.db, parent=reseller, alert_balance="5")
    other = open_account(container.db, parent=reseller, alert_balance="5")
    _subscribe(container, reseller, customer, Channel.EMAIL, "c@example.com")
    _subscribe(
        container, reseller, customer, Channel.EMAIL, "c2@example.com", events=["balance.blocked"]
    )
    _subscribe(container, reseller, reseller, Channel.EMAIL, "r@example.com", subtree=True)
    _subscribe(container, reseller, reseller, Channel.EMAIL, "own@example.com")  # own only
    _subscribe(container, reseller, other, Channel.EMAIL, "o@example.com")

    _cross_alert(container, customer)
    assert container.notify.fan_out() == 2
    assert container.notify.fan_out() == 0  # each event is fanned out once
    low = container.subscriptions.notifications(
        _admin(reseller), customer, limit=10, before_id=None
    )
    assert [(d.type, d.target, d.status) for d in low] == [
        ("balance.low", "c@example.com", DeliveryStatus.PENDING)
    ]
    above = container.subscriptions.notifications(
        _admin(reseller), reseller, limit=10, before_id=None
    )
    assert [(d.type, d.target, d.event_account_id) for d in above] == [
        ("balance.low", "r@example.com", customer)
    ]


def test_a_receiver_failing_three_times_gets_the_event_once_after_four_attempts(
    container: Container,
) -> None:
    clock = FakeClock()
    with http_receiver(lambda n: 500 if n <= 3 else 204) as receiver:
        rewire(container, clock, webhook_allow_hosts="127.0.0.1")
        account = open_account(container.db, alert_balance="5")
        _, secret = _subscribe(container, account, account, Channel.WEBHOOK, receiver.url)
        assert secret is not None
        _cross_alert(container, account)

        outcomes = []
        for _ in range(8):
            summary = container.notify.run_once()
            outcomes.append((summary.attempted, summary.delivered, summary.failed))
            assert container.notify.run_once().attempted == 0  # not due again yet
            clock.advance(days=1)
        assert outcomes[:4] == [(1, 0, 1), (1, 0, 1), (1, 0, 1), (1, 1, 0)]
        assert all(o[0] == 0 for o in outcomes[4:])  # never sent after the success
        assert len(receiver.requests) == 4
        for request in receiver.requests:
            body = json.loads(request.body)
            assert body["type"] == "balance.low"
            assert body["account_id"] == account
            assert verify_signature(
                secret, request.headers["voxbill-signature"], request.body, int(time.time())
            )
        (delivery,) = container.subscriptions.notifications(
            _admin(account), account, limit=10, before_id=None
        )
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 4)
        _, attempts = container.subscriptions.attempts(_admin(account), delivery.id)
        assert [(a.number, a.ok, a.error) for a in attempts] == [
            (1, False, "HTTP 500"),
            (2, False, "HTTP 500"),
            (3, False, "HTTP 500"),
            (4, True, None),
        ]


def test_a_receiver_always_failing_is_dead_after_the_last_attempt(container: Container) -> None:
    clock = FakeClock()
    with http_receiver(lambda n: 503) as receiver:
        rewire(container, clock, webhook_allow_hosts="127.0.0.1", notify_max_attempts=3)
        account = open_account(container.db, alert_balance="5")
        _subscribe(container, account, account, Channel.WEBHOOK, receiver.url)
        _cross_alert(container, account)
        ends = []
        for _ in range(5):
            summary = container.notify.run_once()
            ends.append((summary.failed, summary.dead, summary.ok))
            clock.advance(days=1)
        assert ends == [(1, 0, False), (1, 0, False), (0, 1, False), (0, 0, True), (0, 0, True)]
        assert len(receiver.requests) == 3
        (delivery,) = container.subscriptions.notifications(
            _admin(account), account, limit=10, before_id=None
        )
        assert (delivery.status, delivery.attempts, delivery.last_error) == (
            DeliveryStatus.DEAD,
            3,
            "HTTP 503",
        )


def test_a_worker_killed_after_sending_is_followed_by_one_resend_after_its_lease(
    container: Container,
) -> None:
    clock = FakeClock()
    with http_receiver() as receiver:
        rewire(container, clock, webhook_allow_hosts="127.0.0.1", notify_lease_seconds=60)
        account = open_account(container.db)
        _subscribe(
            container, account, account, Channel.WEBHOOK, receiver.url, events=["topup.received"]
        )
        _topups(container, account, 1)
        container.notify.fan_out()
        (job,) = container.notify.claim()
        assert container.notify.send(job) is None  # sent ... and the worker dies here
        assert len(receiver.requests) == 1

        assert container.notify.run_once().attempted == 0  # still under its lease
        clock.advance(seconds=61)
        assert container.notify.run_once().delivered == 1  # resent once
        assert len(receiver.requests) == 2
        ids = {json.loads(r.body)["id"] for r in receiver.requests}
        assert ids == {job.event.id}  # the receiver de-duplicates by event id
        for _ in range(3):
            clock.advance(days=1)
            assert container.notify.run_once().attempted == 0
        # the dead worker waking up and recording its failure changes nothing
        assert container.notify.record(job, "late") is DeliveryStatus.FAILED
        (delivery,) = container.subscriptions.notifications(
            _admin(account), account, limit=10, before_id=None
        )
        assert delivery.status is DeliveryStatus.DELIVERED
        clock.advance(days=1)
        assert container.notify.run_once().attempted == 0
        assert len(receiver.requests) == 2


def test_two_workers_racing_send_each_delivery_once(
    container: Container, database_url: str
) -> None:
    clock = FakeClock()
    with http_receiver() as receiver:
        rewire(container, clock, webhook_allow_hosts="127.0.0.1", notify_lease_seconds=60)
        second = rewire(
            build(Settings(database_url=database_url)),
            clock,
            webhook_allow_hosts="127.0.0.1",
            notify_lease_seconds=60,
        )
        try:
            account = open_account(container.db)
            for target in ("/a", "/b"):
                _subscribe(
                    container,
                    account,
                    account,
                    Channel.WEBHOOK,
                    receiver.url + target,
                    events=["topup.received"],
                )
            _topups(container, account, 20)
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def work(worker_container: Container) -> None:
                barrier.wait()
                try:
                    worker_container.notify.run_once()
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(c,)) for c in (container, second)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors
            sent = sorted((r.path, json.loads(r.body)["id"]) for r in receiver.requests)
            assert len(sent) == 40
            assert len(set(sent)) == 40
            clock.advance(days=1)
            assert container.notify.run_once().attempted == 0
            assert second.notify.run_once().attempted == 0
        finally:
            second.close()


@pytest.mark.parametrize("charges", [200])
def test_concurrent_charges_crossing_the_alert_send_one_email_and_one_webhook(
    container: Container, charges: int
) -> None:
    clock = FakeClock()
    with smtp_server() as mailbox, http_receiver() as receiver:
        rewire(
            container,
            clock,
            webhook_allow_hosts="127.0.0.1",
            smtp_url=mailbox.url,
            mail_from="alerts@operator.example",
        )
        account = open_account(container.db, alert_balance="5", block_balance="-100")
        _subscribe(container, account, account, Channel.EMAIL, "owner@customer.example")
        _, secret = _subscribe(container, account, account, Channel.WEBHOOK, receiver.url)
        assert secret is not None
        container.ledger.top_up(account, D("10"), actor=OPERATOR)
        barrier = threading.Barrier(charges)
        results: list[object] = [None] * charges

        def charge(i: int) -> None:
            barrier.wait()
            try:
                results[i] = container.ledger.adjust(account, D("-0.05"), "usage", actor=OPERATOR)
            except InsufficientFunds as exc:  # pragma: no cover - the floor is far below
                results[i] = exc

        threads = [threading.Thread(target=charge, args=(i,)) for i in range(charges)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not [r for r in results if isinstance(r, Exception)]
        assert container.ledger.balance(account).balance == D("10") - charges * D("0.05")

        summary = container.notify.run_once()
        assert (summary.delivered, summary.ok) == (2, True)
        for _ in range(3):
            clock.advance(days=1)
            assert container.notify.run_once().attempted == 0

        assert len(mailbox.messages) == 1
        mail = mailbox.messages[0]
        assert mail["From"] == "alerts@operator.example"
        assert mailbox.recipients == [["owner@customer.example"]]
        assert "Low balance" in mail["Subject"]
        assert "below its alert level of 5" in mail.get_payload()
        assert len(receiver.requests) == 1
        request = receiver.requests[0]
        assert json.loads(request.body)["type"] == "balance.low"
        assert verify_signature(
            secret, request.headers["voxbill-signature"], request.body, int(time.time())
        )
        assert not verify_signature(
            "whsec_other", request.headers["voxbill-signature"], request.body, int(time.time())
        )
        assert container.ledger.verify() == []
