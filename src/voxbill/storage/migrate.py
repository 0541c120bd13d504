"""Apply Alembic migrations to the configured database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, inspect

from voxbill.domain.errors import UnknownSchema


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "voxbill.storage:migrations")
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; :class:`UnknownSchema` (nothing done) when the
    database is at a revision this code does not know."""
    config = alembic_config()
    known = current_revision(engine)
    if known is not None and not _is_known(config, known):
        raise UnknownSchema(
            f"the database is at schema revision {known!r}, which this version of voxbill "
            "does not know (a newer voxbill migrated it): run that newer version, or point "
            "VOXBILL_DATABASE_URL at another database"
        )
    try:
        _run(engine, config, lambda: command.upgrade(config, revision))
    except CommandError as exc:  # e.g. a revision that appeared meanwhile
        raise UnknownSchema(f"the schema cannot be upgraded: {exc}") from exc


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (a migration may refuse, changing nothing)."""
    config = alembic_config()
    _run(engine, config, lambda: command.downgrade(config, revision))


def _run(engine: Engine, config: Config, migrate: Callable[[], None]) -> None:
    """One transaction. On SQLite, foreign keys are not enforced meanwhile: a batch
    migration rebuilds a table by dropping it, and dropping a referenced table with them
    enforced deletes (cascades) or refuses its children's rows. They are checked before
    the commit instead (``PRAGMA foreign_key_check``), and enforced again after it."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # only outside a transaction, where the connection is now
            _pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                migrate()
                if sqlite:
                    broken = _pragma(connection, "PRAGMA foreign_key_check")
                    if broken:
                        raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                _pragma(connection, "PRAGMA foreign_keys=ON")


def _pragma(connection: Connection, statement: str) -> list[Any]:
    raw: Any = connection.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        cursor.execute(statement)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _is_known(config: Config, revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(config).get_revision(revision) is not None
    except CommandError:
        return False


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])
