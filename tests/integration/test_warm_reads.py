"""Reads on the event loop (voxbill.serving.warm) on both dialects: a file SQLite database's
reads go through its own loop-reader connection; writes, PostgreSQL reads, a rate plan
due for its check and a cold cache refuse (Cold) and change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from support.charging_world import UK, build_world
from voxbill.bootstrap import Container
from voxbill.serving import warm


def test_a_read_on_the_loop_uses_its_own_connection_or_refuses(container: Container) -> None:
    db = container.db
    with warm.only_warm():
        if db.dialect == "sqlite":
            with db.transaction(readonly=True) as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
                assert conn.engine is not db.engine  # never the shared pool
        else:
            with pytest.raises(warm.Cold), db.transaction(readonly=True):
                pass  # a round trip would wait
        with pytest.raises(warm.Cold), db.transaction():
            pass  # never a write on the loop


def test_authorize_when_warm_answers_as_off_the_loop(container: Container) -> None:
    world = build_world(container, customer_funds="100", reseller_funds="1000")
    charging, rating = container.charging, container.rating
    rating._plans.clear()  # plans never loaded: a load would wait
    with pytest.raises(warm.Cold), warm.only_warm():
        charging.authorize(world.customer_caller, UK)
    expected = charging.authorize(world.customer_caller, UK)  # off the loop: loads them
    if container.db.dialect == "sqlite":
        with warm.only_warm():
            assert charging.authorize(world.customer_caller, UK) == expected
    else:
        with pytest.raises(warm.Cold), warm.only_warm():
            charging.authorize(world.customer_caller, UK)
