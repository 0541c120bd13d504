"""Engines and transactions. Nothing is created at import time: ``bootstrap`` calls these."""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DataError, InvalidatePoolError, StatementError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.pool import NullPool

from voxbill.domain.errors import DatabaseBusy, UnstorableValue, VoxbillError
from voxbill.serving import warm
from voxbill.storage.prepared import uncounted

#: A pooled PostgreSQL connection unused for longer than this is pinged (one round trip)
#: before it is handed out again; one used more recently only if the server sent it
#: something meanwhile (see :func:`_ping_when_in_doubt`).
PING_AFTER_IDLE_SECONDS = 5.0
#: SQLite's busy timeout for reads on the event loop (see :meth:`Database._loop_read`)
LOOP_READ_LOCK_TIMEOUT_SECONDS = 0.005
_IDLE_SINCE = "voxbill.idle_since"


def make_engine(url: str, *, lock_timeout_seconds: float = 5.0, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, lock_timeout_seconds, **kwargs)
    engine = create_engine(
        url,
        pool_size=kwargs.pop("pool_size", 10),
        max_overflow=kwargs.pop("max_overflow", 40),
        **kwargs,
    )
    _ping_when_in_doubt(engine)
    _rollback_keeping_prepared(engine)
    timeout_ms = int(lock_timeout_seconds * 1000)

    @event.listens_for(engine, "connect")
    def _pg_session(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {timeout_ms}")
            cursor.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()

    return engine


def _ping_when_in_doubt(engine: Engine) -> None:
    """Pre-ping, only where it can tell something: ``pool_pre_ping`` would cost every
    transaction a round trip (two per call). A connection the server closed (a restart, a
    terminated backend, an idle timeout) has the server's farewell or end of stream
    waiting on its socket: it is pinged, found dead and the pool replaced, as by
    ``pool_pre_ping``. So is one idle for more than :data:`PING_AFTER_IDLE_SECONDS` (a
    middlebox may have dropped it silently). A new connection is not pinged."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None:  # just connected (the pool clears info when it reconnects)
            return
        recent = time.monotonic() - since < PING_AFTER_IDLE_SECONDS
        if recent and not _has_input(dbapi_connection):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError(str(exc)) from exc
            raise


def _rollback_keeping_prepared(engine: Engine) -> None:
    """psycopg forgets every prepared statement of a connection at each ROLLBACK (and sends
    ``DEALLOCATE ALL``), so each refused call (its step rolls back) had every hot statement
    parsed and planned anew for its next five runs: with one start in ten refused,
    PostgreSQL's CPU per call went from 2.0 to 3.7 ms. Prepared statements outlive a
    rollback on the server (they are not transactional), and voxbill rolls back no schema
    change they could depend on (migrations commit, or stop the process). So the
    transaction is rolled back here first, by the same ROLLBACK sent past psycopg's
    bookkeeping, and psycopg's own rollback then has nothing to do. Should this one fail,
    psycopg's runs as before, its error SQLAlchemy's to handle (a lost connection)."""
    from psycopg.pq import TransactionStatus  # here: only a PostgreSQL engine loads psycopg

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Connection) -> None:
        try:
            dbapi_connection: Any = conn.connection.driver_connection
            status = dbapi_connection.info.transaction_status
            if status == TransactionStatus.IDLE:
                return
            with uncounted(dbapi_connection), dbapi_connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
        except Exception:
            return


def _has_input(dbapi_connection: Any) -> bool:
    """Whether the server sent an idle connection anything (or its socket is gone)."""
    try:
        poll = select.poll()
        poll.register(dbapi_connection.fileno(), select.POLLIN)
        return bool(poll.poll(0))
    except Exception:
        return True


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
    """The unit of work's source: ``with db.transaction() as conn`` commits or rolls back.

    On SQLite, writers of this process queue on an in-process lock before ``BEGIN
    IMMEDIATE``: the database allows one writer anyway, and a queue hands the turn over
    at once where many threads would otherwise poll the file lock (busy timeout) and
    time out under load. The database still enforces it across processes.
    """

    def __init__(self, engine: Engine, *, lock_timeout_seconds: float = 5.0) -> None:
        self.engine = engine
        self._lock_timeout = lock_timeout_seconds
        self._writer = threading.RLock() if engine.dialect.name == "sqlite" else None
        self._loop_reader: Engine | None = None
        self._loop_reader_made = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Connection]:
        if warm.active():  # on an event loop: only a read that cannot wait
            with self._loop_read(readonly) as conn:
                yield conn
            return
        if self._writer is None or readonly:
            with self._transaction(readonly) as conn:
                yield conn
            return
        if not self._writer.acquire(timeout=self._lock_timeout):
            raise DatabaseBusy("the database is busy; retry the request")
        try:
            with self._transaction(readonly) as conn:
                yield conn
        finally:
            self._writer.release()

    @contextmanager
    def _transaction(self, readonly: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if readonly:
                    conn = conn.execution_options(voxbill_readonly=True)
                with conn.begin():
                    yield conn
        except DataError as exc:
            # a value every check let through that the database refuses: bad input
            raise UnstorableValue() from exc
        except StatementError as exc:
            # a refusal raised while binding a value (an amount out of range): the
            # voxbill error, not SQLAlchemy's wrapper, is what the doors map
            if isinstance(exc.orig, VoxbillError):
                raise exc.orig from exc
            raise

    @contextmanager
    def _loop_read(self, readonly: bool) -> Iterator[Connection]:
        """A read on a file SQLite database through the loop-reader connection: one
        connection of its own (the shared pool's may all be held by writers), a reader in
        WAL mode (never waits for a writer), a busy timeout of a few ms (a checkpoint's
        rare lock). Anything else would wait: :class:`~voxbill.serving.warm.Cold`."""
        reader = self._loop_reader_engine() if readonly else None
        if reader is None:
            raise warm.Cold("a write, or a read that needs a round trip")
        try:
            conn = reader.connect()
        except SATimeoutError:  # another loop's read holds it
            raise warm.Cold("the loop reader is in use") from None
        with conn:
            conn = conn.execution_options(voxbill_readonly=True)
            with conn.begin():
                yield conn

    def _loop_reader_engine(self) -> Engine | None:
        url = self.engine.url
        if self.dialect != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        if self._loop_reader is None:
            with self._loop_reader_made:
                if self._loop_reader is None:
                    self._loop_reader = _sqlite_engine(
                        url.render_as_string(hide_password=False),
                        LOOP_READ_LOCK_TIMEOUT_SECONDS,
                        pool_size=1,
                        max_overflow=0,
                        pool_timeout=0,
                    )
        return self._loop_reader

    def ping(self) -> None:
        """One round trip to the database (the health check); raises if it is gone."""
        with self.transaction(readonly=True) as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._loop_reader is not None:
            self._loop_reader.dispose()
