"""Apply Alembic migrations to the configured database.

Alembic is imported only when there is something for it to do: every command (and every
test's database) asks for an upgrade, and a database already at the newest revision
(:func:`head_revision`, read from the migration files) needs none. That saves each
``voxbill`` start loading Alembic (~0.2 s) and its script directory (~0.1 s).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect

from voxbill.domain.errors import UnknownSchema

if TYPE_CHECKING:
    from alembic.config import Config

_REVISION = re.compile(r"""^revision\s*(?::\s*str\s*)?=\s*["']([^"']+)["']\s*$""", re.M)
_DOWN_REVISION = re.compile(
    r"""^down_revision\s*(?::[^=]*)?=\s*(?:["']([^"']+)["']|(None))\s*$""", re.M
)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "voxbill.storage:migrations")
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; :class:`UnknownSchema` (nothing done) when the
    database is at a revision this code does not know."""
    known = current_revision(engine)
    if revision == "head" and known is not None and known == head_revision():
        return  # nothing to migrate (what Alembic would find, without loading it)
    from alembic import command
    from alembic.util.exc import CommandError

    config = alembic_config()
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
    from alembic import command

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
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    try:
        return ScriptDirectory.from_config(config).get_revision(revision) is not None
    except CommandError:
        return False


@functools.cache
def head_revision() -> str | None:
    """The newest revision of the migration files (``revision``/``down_revision`` lines),
    without Alembic; None (ask Alembic) unless every file gives both plainly and they
    form one chain with one head. ``test_migrations`` checks it against Alembic's."""
    revisions: dict[str, str | None] = {}
    versions = resources.files("voxbill.storage.migrations").joinpath("versions")
    for entry in versions.iterdir():
        if not entry.name.endswith(".py") or entry.name == "__init__.py":
            continue
        text = entry.read_text(encoding="utf-8")
        revision = _REVISION.findall(text)
        down = _DOWN_REVISION.findall(text)
        if len(revision) != 1 or len(down) != 1 or revision[0] in revisions:
            return None
        revisions[revision[0]] = down[0][0] or None
    heads = set(revisions) - set(revisions.values())
    roots = [name for name, down_revision in revisions.items() if down_revision is None]
    if len(heads) != 1 or len(roots) != 1:
        return None
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])
