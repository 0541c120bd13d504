"""Engines and transactions. Nothing is created at import time: ``bootstrap`` calls these."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

from voxbill.domain.errors import VoxbillError


class DatabaseBusy(VoxbillError):
    """A lock could not be had in time; the request changed nothing and may be retried."""

    code = "database_busy"


def make_engine(url: str, *, lock_timeout_seconds: float = 5.0, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, lock_timeout_seconds, **kwargs)
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=kwargs.pop("pool_size", 10),
        max_overflow=kwargs.pop("max_overflow", 40),
        **kwargs,
    )
    timeout_ms = int(lock_timeout_seconds * 1000)

    @event.listens_for(engine, "connect")
    def _pg_session(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {timeout_ms}")
            cursor.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()

    return engine


def _sqlite_engine(url: str, lock_timeout_seconds: float, **kwargs: Any) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    if kwargs.pop("null_pool", False):
        kwargs["poolclass"] = NullPool
    engine = create_engine(
        url, connect_args={"timeout": lock_timeout_seconds, "check_same_thread": False}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout_seconds * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Connection) -> None:
        # Writers take the write lock up front (no lock upgrade deadlocks); readers don't.
        readonly = connection.get_execution_options().get("voxbill_readonly", False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


class Database:
    """The unit of work's source: ``with db.transaction() as conn`` commits or rolls back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            if readonly:
                conn = conn.execution_options(voxbill_readonly=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()
