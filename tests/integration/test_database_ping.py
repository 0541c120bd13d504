"""A pooled connection is pinged before use only when in doubt (PostgreSQL): not after a
recent use, but after a long idle time or when the server closed it meanwhile, which
then never reaches a transaction. SQLite connections are never pinged."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from voxbill.bootstrap import Container
from voxbill.storage import database


@pytest.fixture
def pings(container: Container, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every ping the engine's dialect sends."""
    sent: list[Any] = []
    dialect = container.db.engine.dialect
    real = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        sent.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return sent


def _backend(container: Container) -> int | None:
    with container.db.transaction() as conn:
        if conn.dialect.name != "postgresql":
            conn.execute(text("SELECT 1"))
            return None
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_a_moment_ago_is_not_pinged(
    container: Container, pings: list[Any]
) -> None:
    first = _backend(container)
    for _ in range(3):
        assert _backend(container) == first
    assert pings == []


def test_a_connection_idle_for_long_is_pinged(
    container: Container, pings: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(container)
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _backend(container) == first
    assert len(pings) == (1 if container.db.dialect == "postgresql" else 0)


def test_a_connection_the_server_closed_is_replaced_before_use(
    container: Container, pings: list[Any]
) -> None:
    if container.db.dialect != "postgresql":
        pytest.skip("SQLite has no server to close a connection")
    first = _backend(container)
    admin = create_engine(container.db.engine.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            for _ in range(100):  # until the backend has gone (and said so)
                query = "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"
                if conn.execute(text(query), {"pid": first}).scalar_one() == 0:
                    break
                time.sleep(0.05)
    finally:
        admin.dispose()
    second = _backend(container)  # a transaction on a fresh connection, no error
    assert second is not None
    assert second != first
    assert len(pings) == 1
