"""A reseller's customers hear from the reseller (issue 13, templates): the nearest
operator's or reseller's template and sender win, in a real SMTP server; templates are
sandboxed; only the account's own tenant may set them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from api_tree import Tree, snapshot

from support.notify_world import FakeClock, rewire, smtp_server


def _put(tree: Tree, key: str, account: int, event: str, channel: str, **body: object) -> object:
    return tree.client.put(
        f"/api/v1/accounts/{account}/templates/{event}/{channel}",
        json=body,
        headers=tree.auth(key),
    )


def _low_balance(tree: Tree, account: int) -> None:
    payload = {"balance": "1.50", "currency": "USD", "alert_balance": "5.00"}
    with tree.container.uow.transaction() as tx:
        tx.ledger.add_outbox_event(
            "balance.alert_crossed_down", account, json.dumps(payload), datetime.now(UTC)
        )


def test_customers_hear_from_their_nearest_reseller_or_operator(tree: Tree) -> None:
    with smtp_server() as mailbox:
        rewire(tree.container, FakeClock(), smtp_url=mailbox.url, mail_from="noc@voxbill.example")
        made = _put(
            tree,
            tree.admin,
            tree.root,
            "balance.low",
            "email",
            subject="Acme: balance {{ data.balance }}",
            sender_name="Acme Telecom",
            sender_address="alerts@acme.example",
        )
        assert made.status_code == 200, made.text
        made = _put(
            tree,
            tree.key_a,
            tree.reseller_a,
            "*",
            "email",
            body="Dear customer, your balance is {{ data.balance }} {{ data.currency }}.",
            sender_name="Reseller A",
            sender_address="billing@reseller-a.example",
        )
        assert made.status_code == 200, made.text
        for customer, key in ((tree.customer_a, tree.key_a), (tree.customer_b, tree.key_b)):
            response = tree.client.post(
                f"/api/v1/accounts/{customer}/subscriptions",
                json={
                    "channel": "email",
                    "target": f"c{customer}@example.com",
                    "events": ["balance.low"],
                },
                headers=tree.auth(key),
            )
            assert response.status_code == 201, response.text
            _low_balance(tree, customer)
        assert tree.container.notify.run_once().delivered == 2

    mails = {m["To"]: m for m in mailbox.messages}
    a1 = mails[f"c{tree.customer_a}@example.com"]
    assert a1["From"] == "Reseller A <billing@reseller-a.example>"
    assert a1.get_payload().strip() == "Dear customer, your balance is 1.50 USD."
    assert a1["Subject"] == f"Low balance on account {tree.customer_a}"  # the default's
    b1 = mails[f"c{tree.customer_b}@example.com"]
    assert b1["From"] == "Acme Telecom <alerts@acme.example>"
    assert b1["Subject"] == "Acme: balance 1.50"
    assert "below its alert level of 5.00 USD" in b1.get_payload()


def test_templates_are_set_by_their_own_tenant_and_validated(tree: Tree) -> None:
    before = snapshot(tree.container)
    ok = {"body": "x", "sender_name": "R"}
    assert _put(tree, tree.key_b, tree.reseller_a, "balance.low", "email", **ok).status_code == 404
    assert (
        _put(tree, tree.key_customer_a, tree.reseller_a, "balance.low", "sms", **ok).status_code
        == 404
    )
    assert (
        _put(tree, tree.support_a, tree.reseller_a, "balance.low", "email", **ok).status_code == 403
    )
    refused = _put(tree, tree.admin, tree.customer_a, "balance.low", "email", **ok)
    assert refused.status_code == 422
    for event, channel, body, code in (
        ("balance.low", "email", {"body": "{{ data.balance"}, "invalid_template"),
        ("balance.lowish", "email", ok, "invalid_input"),
        ("balance.low", "webhook", ok, "invalid_input"),
        ("balance.low", "email", {"sender_address": "nope"}, "invalid_input"),
        ("balance.low", "email", {"sender_name": "a\r\nBcc: x@y.z"}, "invalid_input"),
    ):
        response = _put(tree, tree.key_a, tree.reseller_a, event, channel, **body)
        assert response.status_code == 422, (event, channel, body, response.text)
        assert response.json()["code"] == code
    assert snapshot(tree.container) == before

    assert _put(tree, tree.key_a, tree.reseller_a, "balance.low", "sms", **ok).status_code == 200
    path = f"/api/v1/accounts/{tree.reseller_a}/templates"
    assert [
        t["channel"] for t in tree.client.get(path, headers=tree.auth(tree.support_a)).json()
    ] == ["sms"]
    assert tree.client.get(path, headers=tree.auth(tree.key_b)).status_code == 404
    one = f"{path}/balance.low/sms"
    assert tree.client.get(one, headers=tree.auth(tree.key_a)).json()["body"] == "x"
    assert tree.client.delete(one, headers=tree.auth(tree.support_a)).status_code == 403
    assert tree.client.delete(one, headers=tree.auth(tree.key_a)).status_code == 204
    assert tree.client.get(one, headers=tree.auth(tree.key_a)).status_code == 404


def test_a_template_cannot_reach_into_python() -> None:
    from voxbill.domain.notify import Channel, Event, NotifyTemplate
    from voxbill.services.notify.templates import render

    now = datetime.now(UTC)
    event = Event(7, "balance.low", 3, now, {"balance": "1"})
    own = NotifyTemplate(
        1,
        "*",
        Channel.EMAIL,
        "{{ data.__class__.__mro__ }}|{{ ''.__class__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        None,
        None,
        now,
    )
    subject, text = render(event, Channel.EMAIL, own)
    assert "object" not in subject
    assert "class" not in subject
    assert text == "The balance of account 3 is 1 , below its alert level of  ." + " Please top up."
