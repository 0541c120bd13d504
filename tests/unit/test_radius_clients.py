"""RADIUS clients: networks by longest prefix, each with its secret and its operator
(``NETWORK=SECRET[@OPERATOR_ID]``), bound at start like the other doors' peers, and the
clients allowed to send Access-Requests without Message-Authenticator."""

from __future__ import annotations

import pytest

from voxbill.domain.errors import InvalidInput
from voxbill.protocols.radius.clients import RadiusClients


def test_clients_match_the_longest_network() -> None:
    clients = RadiusClients.parse("10.0.0.0/8=wide, 10.1.0.0/16=narrow,127.0.0.1=local")
    assert [c.secret for c in map(clients.match, ("10.1.2.3", "10.2.0.1"))] == [
        b"narrow",
        b"wide",
    ]
    for local in ("127.0.0.1", "::ffff:127.0.0.1"):
        found = clients.match(local)
        assert found is not None
        assert found.secret == b"local"
    assert clients.match("192.168.0.1") is None
    assert clients.match("not-an-ip") is None


@pytest.mark.parametrize(
    ("item", "secret", "operator"),
    [
        ("1.2.3.4=secret", b"secret", None),
        ("1.2.3.4=secret@7", b"secret", 7),
        ("1.2.3.4=p@ss", b"p@ss", None),  # '@' not followed by digits only: the secret's
        ("1.2.3.4=p@ss@12", b"p@ss", 12),  # the LAST '@digits' names the operator
        ("1.2.3.4=abc@123@7", b"abc@123", 7),  # a secret ending in @digits, with its operator
        ("1.2.3.4=a=b@7", b"a=b", 7),  # everything after the first '=' is the secret
        ("1.2.3.4=trailing@", b"trailing@", None),
        ("1.2.3.4=x@\u0661\u0662", b"x@\xd9\xa1\xd9\xa2", None),  # not ASCII digits
    ],
)
def test_the_secret_and_its_operator(item: str, secret: bytes, operator: int | None) -> None:
    (client,) = RadiusClients.parse(item)
    assert (client.secret, client.operator_id, client.signed) == (secret, operator, True)


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.0/8",
        "10.0.0.0/8=",
        "10.0.0.0/8=@7",  # an operator and no secret
        "=secret",
        "nonsense=x",
        "1.2.3.4=a,1.2.3.4=b",
        "1.2.3.4=a@1234567890123456789",  # not an account id
    ],
)
def test_bad_client_lists_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        RadiusClients.parse(text)


def test_errors_never_show_the_secret() -> None:
    for text in ("10.0.0.0/8=hunter2@7,10.0.0.0/8=hunter2", "nonsense=hunter2"):
        with pytest.raises(InvalidInput) as caught:
            RadiusClients.parse(text)
        assert "hunter2" not in str(caught.value)


def test_binding_takes_the_sole_operator_or_demands_one_per_client() -> None:
    clients = RadiusClients.parse("127.0.0.1=a,10.0.0.0/8=b@9")
    assert not clients.is_bound
    with pytest.raises(InvalidInput, match="9"):  # 9 is not an operator
        clients.bound([1])
    sole = RadiusClients.parse("127.0.0.1=a").bound([1])
    assert sole.is_bound
    assert [c.operator_id for c in sole] == [1]
    with pytest.raises(InvalidInput, match="=SECRET@OPERATOR_ID"):  # two operators: name one
        RadiusClients.parse("127.0.0.1=a").bound([1, 2])
    both = RadiusClients.parse("127.0.0.1=a@2,10.0.0.0/8=b@1").bound([1, 2])
    assert [(str(c.network), c.operator_id) for c in both] == [
        ("127.0.0.1/32", 2),
        ("10.0.0.0/8", 1),
    ]


def test_unsigned_clients_are_named_by_their_exact_network() -> None:
    clients = RadiusClients.parse("10.0.0.0/8=a,10.9.0.0/16=b", unsigned="10.9.0.0/16")
    legacy, modern = clients.match("10.9.1.1"), clients.match("10.1.1.1")
    assert legacy is not None
    assert modern is not None
    assert (legacy.signed, modern.signed) == (False, True)
    assert not clients.bound([1]).match("10.9.1.1").signed  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="not one of the networks"):
        RadiusClients.parse("10.0.0.0/8=a", unsigned="10.9.0.0/16")
    with pytest.raises(InvalidInput):
        RadiusClients.parse("10.0.0.0/8=a", unsigned="nonsense")
