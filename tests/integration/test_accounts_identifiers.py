"""Caller identifiers against real databases: normalization, uniqueness, the hot lookup."""

from __future__ import annotations

from datetime import UTC, datetime

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
from voxbill.services.access.identifiers import IdentifierType as T
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


# -- issue 10, finding 4: identifier squatting across operators ----------------------------


def _second_operator(container: Container) -> tuple[Principal, int]:
    other, _ = container.accounts.ensure_operator("Rival", "EUR")
    rival = Principal(other.id, other.path, Role.ADMIN)
    return rival, container.accounts.create(rival, {"kind": "customer", "name": "Squat"}).id


def test_another_operators_claim_never_hides_a_caller_from_its_own_operator(
    container: Container,
) -> None:
    """Operator B registers A's customer's ANI, SIP user, network and card: B's
    registrations succeed (nothing about A is revealed), and every lookup scoped to A
    still finds A's customer, every lookup scoped to B finds B's."""
    admin, _, alice, _ = _setup(container)
    ids = container.identifiers
    ids.add(admin, alice, T.ANI, "+441000000001", None)
    ids.add(admin, alice, T.SIP_USER, "alice", None)
    ids.add(admin, alice, T.IP, "192.0.2.0/24", None)
    ids.add(admin, alice, T.CARD, "40001234", "4321")
    rival, squat = _second_operator(container)
    for type_, value, pin in (
        (T.ANI, "+441000000001", None),
        (T.SIP_USER, "alice", None),
        (T.IP, "192.0.2.0/24", None),
        (T.CARD, "40001234", "9999"),
    ):
        ids.add(rival, squat, type_, value, pin)  # no conflict: values are per operator
    a, b = admin.operator_id, rival.operator_id
    for operator, account in ((a, alice), (b, squat)):
        for asked in ({"ani": "+441000000001"}, {"sip_user": "alice"}, {"ip": "192.0.2.7"}):
            found = ids.identify(operator_id=operator, **asked)
            assert found is not None, (operator, asked)
            assert found.account_id == account, (operator, asked)
    card_a = ids.identify(operator_id=a, card="40001234", pin="4321")
    assert card_a is not None
    assert card_a.account_id == alice
    with pytest.raises(InvalidPin):  # B's PIN is not A's card's
        ids.identify(operator_id=a, card="40001234", pin="9999")
    # without an operator (internal callers only): ambiguous, nobody
    assert ids.identify(ani="+441000000001") is None
    assert ids.identify(ip="192.0.2.7") is None
    # B's own key cannot see or delete A's identifiers: they do not exist for it
    alices = ids.list(admin, alice)
    for identifier in alices:
        with pytest.raises(NotFound):
            ids.delete(rival, identifier.id)
    with pytest.raises(NotFound):
        ids.list(rival, alice)
    assert ids.list(admin, alice) == alices


def test_a_duplicate_within_the_operator_is_a_conflict_that_names_nobody(
    container: Container,
) -> None:
    admin, _, alice, bob = _setup(container)
    ids = container.identifiers
    ids.add(admin, alice, T.ANI, "+441000000001", None)
    with pytest.raises(Conflict) as conflict:
        ids.add(admin, bob, T.ANI, "+44 1000 000001", None)
    assert str(conflict.value) == "ani 441000000001 already identifies a caller"


@pytest.mark.parametrize(
    "value",
    [
        "0.0.0.0/0",
        "::/0",
        "10.0.0.0/7",  # wider than a /8
        "2001:db8::/31",  # wider than a /32
        "0.0.0.0/8",
        "0.0.0.0",
        "::",
        "127.0.0.1",
        "127.0.0.0/8",
        "::1",
        "224.0.0.1",
        "ff02::1",
        "255.255.255.255",
        "240.1.0.0/16",
        "::ffff:10.0.0.1",
    ],
)
def test_catch_all_networks_are_refused(container: Container, value: str) -> None:
    admin, _, alice, _ = _setup(container)
    with pytest.raises(InvalidInput) as refused:
        container.identifiers.add(admin, alice, T.IP, value, None)
    assert refused.value.code == "network_not_allowed"


def test_the_widest_allowed_networks_and_legacy_catch_alls(container: Container) -> None:
    """A /8 and an IPv6 /32 are allowed; a catch-all stored before the rule is never
    matched; an IPv4-mapped source address is looked up as IPv4."""
    admin, _, alice, bob = _setup(container)
    ids = container.identifiers
    ids.add(admin, alice, T.IP, "10.0.0.0/8", None)
    ids.add(admin, alice, T.IP, "2001:db8::/32", None)
    with container.db.transaction() as conn:  # as an older voxbill let it in
        conn.execute(
            caller_identifiers.insert().values(
                operator_id=admin.operator_id,
                account_id=bob,
                type="ip",
                value="0.0.0.0/0",
                ip_version=4,
                net_start="00000000",
                net_end="ffffffff",
                prefix_len=0,
                created_at=datetime.now(UTC),
            )
        )
    operator = admin.operator_id
    assert ids.identify(operator_id=operator, ip="10.200.1.1").account_id == alice  # type: ignore[union-attr]
    assert ids.identify(operator_id=operator, ip="::ffff:10.200.1.1").account_id == alice  # type: ignore[union-attr]
    assert ids.identify(operator_id=operator, ip="8.8.8.8") is None
    assert ids.identify(operator_id=operator, ip="2001:db8:1::1").account_id == alice  # type: ignore[union-attr]


def test_identifiers_can_be_deleted_within_the_subtree_only(container: Container) -> None:
    admin, reseller, alice, bob = _setup(container)
    ids = container.identifiers
    card = ids.add(admin, alice, T.CARD, "40001234", "4321")
    ani = ids.add(admin, bob, T.ANI, "+441000000002", None)
    reseller_key = container.auth.authenticate(
        container.auth.issue(admin, reseller, Role.RESELLER).secret
    )
    support = container.auth.authenticate(
        container.auth.issue(admin, reseller, Role.SUPPORT).secret
    )
    with pytest.raises(NotFound):  # Bob is not below the reseller
        ids.delete(reseller_key, ani.id)
    with pytest.raises(NotFound):
        ids.delete(reseller_key, 999_999)
    with pytest.raises(Forbidden):  # read-only
        ids.delete(support, card.id)
    with pytest.raises(InvalidPin):  # counts a wrong PIN: the counters go with the card
        ids.identify(operator_id=admin.operator_id, card="40001234", pin="0000")
    assert ids.delete(reseller_key, card.id).id == card.id
    assert ids.identify(operator_id=admin.operator_id, card="40001234", pin="4321") is None
    assert ids.list(admin, alice) == []
    assert ids.delete(admin, ani.id).value == "441000000002"
    assert ids.identify(operator_id=admin.operator_id, ani="+441000000002") is None
    with pytest.raises(NotFound):
        ids.delete(admin, ani.id)


# -- issue 10, finding 3: an IP-identified trunk asserts only its own subtree's callers ----


def _trunks(container: Container) -> tuple[Principal, dict[str, int]]:
    """operator ── reseller R ── customer C (ANI …01, SIP user "carol")
    └── trunk T (IP 192.0.2.0/24) ── user U (ANI …02)"""
    root, _ = container.accounts.ensure_operator("Acme", "EUR")
    admin = Principal(root.id, root.path, Role.ADMIN)

    def create(parent: int, kind: str, name: str) -> int:
        fields = {"kind": kind, "name": name, "parent_id": parent}
        return container.accounts.create(admin, fields).id

    r = create(root.id, "reseller", "R")
    accounts = {"R": r, "C": create(r, "customer", "C"), "T": create(root.id, "customer", "T")}
    accounts["U"] = create(accounts["T"], "user", "U")
    ids = container.identifiers
    ids.add(admin, accounts["C"], T.ANI, "+441000000001", None)
    ids.add(admin, accounts["C"], T.SIP_USER, "carol", None)
    ids.add(admin, accounts["T"], T.IP, "192.0.2.0/24", None)
    ids.add(admin, accounts["U"], T.ANI, "+441000000002", None)
    return admin, accounts


@pytest.mark.parametrize("scoped", [True, False], ids=["operator", "no-operator"])
def test_a_trunk_cannot_assert_another_tenants_caller(container: Container, scoped: bool) -> None:
    admin, a = _trunks(container)
    operator = admin.operator_id if scoped else None

    def who(**asked: str) -> int | None:
        found = container.identifiers.identify(operator_id=operator, **asked)
        return None if found is None else found.account_id

    trunk = "192.0.2.10"
    # another tenant's ANI or SIP user from the trunk's address: the source wins
    assert who(ani="+441000000001", ip=trunk) == a["T"]
    assert who(sip_user="carol", ip=trunk) == a["T"]
    assert who(sip_user="carol", ani="+441000000001", ip=trunk) == a["T"]
    # the trunk's own subtree: the asserted caller, more precise than the trunk
    assert who(ani="+441000000002", ip=trunk) == a["U"]
    assert who(sip_user="carol", ani="+441000000002", ip=trunk) == a["U"]
    assert who(ani="+449999999999", ip=trunk) == a["T"]
    # from an address that identifies nobody (a trusted proxy): the asserted caller
    for proxy in ("198.51.100.1", None):
        extra = {} if proxy is None else {"ip": proxy}
        assert who(ani="+441000000001", **extra) == a["C"]
        assert who(sip_user="carol", **extra) == a["C"]
        assert who(ani="+441000000002", **extra) == a["U"]


def test_an_api_key_sees_only_callers_in_its_subtree(container: Container) -> None:
    admin, a = _trunks(container)
    ids = container.identifiers
    r = container.accounts.visible(admin, a["R"]).path
    operator = admin.operator_id
    assert ids.identify(operator_id=operator, ani="+441000000001", within=r).account_id == a["C"]  # type: ignore[union-attr]
    assert ids.identify(operator_id=operator, ani="+441000000002", within=r) is None
    assert ids.identify(operator_id=operator, ip="192.0.2.1", within=r) is None
