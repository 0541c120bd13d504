"""Caller identifiers against real databases: normalization, uniqueness, the hot lookup."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidPin,
    NotFound,
    Unauthorized,
)
from voxbill.services.identifiers import IdentifierType as T
from voxbill.storage.schema import api_keys, caller_identifiers


def _setup(container: Container) -> tuple[Principal, int, int, int]:
    root, _ = container.accounts.ensure_operator("Acme", "EUR")
    admin = Principal(root.id, root.path, Role.ADMIN)
    reseller = container.accounts.create(admin, {"kind": "reseller", "name": "R"}).id
    alice = container.accounts.create(
        admin, {"kind": "customer", "name": "Alice", "parent_id": reseller}
    ).id
    bob = container.accounts.create(admin, {"kind": "customer", "name": "Bob"}).id
    return admin, reseller, alice, bob


def test_identify_by_each_kind_of_identifier(container: Container) -> None:
    admin, _, alice, bob = _setup(container)
    ids = container.identifiers
    ani = ids.add(admin, alice, T.ANI, "+44 20 7946 0958", None)
    assert ani.value == "442079460958"
    ids.add(admin, alice, T.SIP_USER, "sip:alice@pbx.example.com", None)
    ids.add(admin, alice, T.IP, "10.1.0.0/16", None)
    ids.add(admin, bob, T.IP, "10.1.2.0/24", None)
    ids.add(admin, bob, T.IP, "2001:db8::/32", None)
    ids.add(admin, bob, T.CARD, "4000 1234 5678", "4321")

    operator = admin.operator_id
    found = ids.identify(operator_id=operator, ani="00442079460958")
    assert found is not None
    assert (found.account_id, found.type) == (alice, T.ANI)
    assert ids.identify(sip_user="alice").account_id == alice  # type: ignore[union-attr]
    # IP: the longest network wins; outside every network: unknown
    assert ids.identify(ip="10.1.2.3").account_id == bob  # type: ignore[union-attr]
    assert ids.identify(ip="10.1.9.9").account_id == alice  # type: ignore[union-attr]
    assert ids.identify(ip="2001:db8::1").account_id == bob  # type: ignore[union-attr]
    assert ids.identify(ip="10.2.0.1") is None
    assert ids.identify(ip="not an ip") is None
    # card + PIN: the PIN is checked and never stored in the clear
    assert ids.identify(card="400012345678", pin="4321").account_id == bob  # type: ignore[union-attr]
    with pytest.raises(InvalidPin):  # a known card with a wrong PIN: the switch re-prompts
        ids.identify(card="400012345678", pin="0000")
    assert ids.identify(card="400099999999", pin="4321") is None  # an unknown card
    with pytest.raises(InvalidPin):  # a known card without its PIN
        ids.identify(card="400012345678")
    with container.db.transaction(readonly=True) as conn:
        stored = conn.execute(
            select(caller_identifiers.c.pin_hash).where(caller_identifiers.c.type == "card")
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "4321" not in stored
    assert ids.identify(ani="+15550000000") is None
    assert ids.identify() is None
    assert [i.type for i in ids.list(admin, alice)] == [T.ANI, T.SIP_USER, T.IP]


def test_identifiers_are_unique_per_operator_and_validated(container: Container) -> None:
    admin, _, alice, bob = _setup(container)
    ids = container.identifiers
    ids.add(admin, alice, T.ANI, "+33123456789", None)
    with pytest.raises(Conflict):
        ids.add(admin, bob, T.ANI, "0033 1 23 45 67 89", None)
    ids.add(admin, alice, T.IP, "10.0.0.1/32", None)
    with pytest.raises(Conflict):
        ids.add(admin, bob, T.IP, "10.0.0.1", None)  # the same network, written otherwise
    for type_, value, pin in (
        (T.ANI, "hello", None),
        (T.IP, "300.1.1.1", None),
        (T.SIP_USER, "a b", None),
        (T.CARD, "12", "1234"),
        (T.CARD, "123456", None),
        (T.CARD, "123456", "12"),
        (T.ANI, "+33111", "1234"),
    ):
        with pytest.raises(InvalidInput):
            ids.add(admin, bob, type_, value, pin)
    # a second operator may use the same values
    other, _ = container.accounts.ensure_operator("Other", "EUR")
    other_admin = Principal(other.id, other.path, Role.ADMIN)
    carol = container.accounts.create(other_admin, {"kind": "customer", "name": "Carol"}).id
    ids.add(other_admin, carol, T.ANI, "+33123456789", None)
    assert ids.identify(operator_id=other.id, ani="+33123456789").account_id == carol  # type: ignore[union-attr]
    assert ids.identify(operator_id=admin.operator_id, ani="+33123456789").account_id == alice  # type: ignore[union-attr]
    assert ids.identify(ani="+33123456789") is None  # ambiguous without an operator


def test_identifier_tenancy(container: Container) -> None:
    admin, reseller, alice, bob = _setup(container)
    reseller_key = container.auth.issue(admin, reseller, Role.RESELLER)
    principal = container.auth.authenticate(reseller_key.secret)
    container.identifiers.add(principal, alice, T.SIP_USER, "alice", None)
    with pytest.raises(NotFound):
        container.identifiers.add(principal, bob, T.SIP_USER, "bob", None)
    support = container.auth.authenticate(
        container.auth.issue(admin, reseller, Role.SUPPORT).secret
    )
    with pytest.raises(Forbidden):
        container.identifiers.add(support, alice, T.SIP_USER, "alice2", None)


def test_api_keys_are_stored_hashed_and_revocable(container: Container) -> None:
    admin, reseller, _, _ = _setup(container)
    issued = container.auth.issue(admin, reseller, Role.RESELLER, "billing system")
    assert issued.secret.startswith(issued.record.prefix + "_")
    assert len(issued.secret) > 50
    with container.db.transaction(readonly=True) as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.id == issued.record.id)).one()
    assert issued.secret not in row
    assert row.prefix == issued.record.prefix
    principal = container.auth.authenticate(issued.secret)
    assert (principal.account_id, principal.role) == (reseller, Role.RESELLER)
    container.auth.revoke(admin, issued.record.id)
    with pytest.raises(Unauthorized):
        container.auth.authenticate(issued.secret)
    with pytest.raises(Unauthorized):
        container.auth.authenticate(issued.secret[:-1] + "x")


def test_portal_passwords_use_argon2id(container: Container) -> None:
    admin, reseller, _, _ = _setup(container)
    container.auth.create_portal_user(
        admin, reseller, "Ops@Example.com", "correct horse 1", Role.RESELLER
    )
    principal = container.auth.login("ops@example.com", "correct horse 1")
    assert (principal.account_id, principal.role) == (reseller, Role.RESELLER)
    for email, password in (("ops@example.com", "wrong"), ("nobody@example.com", "x")):
        with pytest.raises(Unauthorized):
            container.auth.login(email, password)
    with pytest.raises(Conflict):
        container.auth.create_portal_user(
            admin, reseller, "ops@example.com", "another pass", Role.SUPPORT
        )
