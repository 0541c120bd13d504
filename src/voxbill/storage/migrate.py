"""Apply Alembic migrations to the configured database."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, inspect

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
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, revision)
        except CommandError as exc:  # e.g. a revision that appeared meanwhile
            raise UnknownSchema(f"the schema cannot be upgraded: {exc}") from exc


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
