"""Batch cards at the RADIUS door (User-Name + User-Password = card + PIN), with the real
``radclient`` over UDP: an inactive card is rejected ``card inactive`` (h323-return-code
7) only with its right PIN, an expired one ``card expired`` (5), an active one accepted.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from support.charging_world import UK, build_world
from support.radius_peer import radclient, require_radclient, running_radius
from voxbill.bootstrap import Container
from voxbill.services.cards.service import BatchRequest


def test_radius_refuses_inactive_and_expired_cards(container: Container) -> None:
    require_radclient()
    world = build_world(container)
    generated = container.cards.generate(
        world.system, BatchRequest(world.customer, 1, D("5.00"), valid_days=10)
    )
    card = generated.cards[0]
    ask = {"User-Name": card.serial, "User-Password": card.pin, "Called-Station-Id": UK}
    with running_radius(container) as port:
        inactive = radclient(port, "auth", ask)
        assert inactive is not None
        assert inactive.code == "Access-Reject"
        assert inactive.one("h323-return-code") == "h323-return-code=7"
        assert inactive.one("Reply-Message") == "card inactive"
        wrong = radclient(port, "auth", ask | {"User-Password": "0" * 10})
        assert wrong is not None
        assert wrong.one("h323-return-code") == "h323-return-code=2"  # wrong PIN, not state

        container.cards.activate(world.system, generated.batch.id)
        accept = radclient(port, "auth", ask)
        assert accept is not None
        assert accept.code == "Access-Accept"
        assert accept.one("h323-credit-amount") == "h323-credit-amount=5"

        view = container.cards.holder_view(
            card.serial, card.pin, operator_id=world.root, within=None, asker="test"
        )
        assert view.expires_at is not None
        later = view.expires_at + timedelta(minutes=1)
        container.identifiers.pins.clock = lambda: later
        expired = radclient(port, "auth", ask)
        assert expired is not None
        assert expired.code == "Access-Reject"
        assert expired.one("h323-return-code") == "h323-return-code=5"
        assert expired.one("Reply-Message") == "card expired"
