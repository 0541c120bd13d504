"""Shared fixtures: a migrated database on SQLite, and on PostgreSQL when configured."""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from voxbill.bootstrap import Container, build
from voxbill.settings import Settings

POSTGRES_URL = os.environ.get("VOXBILL_TEST_POSTGRES_URL")


def pytest_report_header(config: pytest.Config) -> str:
    if POSTGRES_URL:
        return f"PostgreSQL tests: {POSTGRES_URL}"
    return "PostgreSQL tests: SKIPPED (set VOXBILL_TEST_POSTGRES_URL to run them)"


#: Fixtures that migrate the database they are given to the newest revision: a test that
#: uses one gets a copy of a database migrated once per run (a template), which is what
#: migrating it would make, instead of running every migration again (~0.4 s a test on
#: PostgreSQL, ~0.15 s on SQLite). Other tests get an empty database, as before.
MIGRATING_FIXTURES = frozenset({"container", "warm_container"})


def _admin() -> Any:
    assert POSTGRES_URL is not None
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


class _Templates:
    """One migrated database per dialect and run, made on first use and copied per test;
    PostgreSQL databases are dropped by a background thread (a DROP waits for the
    server's checkpoint, ~0.5 s, which the next test need not wait for)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._postgres: str | None = None
        self._sqlite: Path | None = None
        self._drops: queue.Queue[str | None] = queue.Queue()
        self._dropper: threading.Thread | None = None

    def postgres(self) -> str:
        with self._lock:
            if self._postgres is None:
                url, name = self._create(None)
                build(Settings(database_url=url), migrate=True).close()
                self._postgres = name
            return self._postgres

    def sqlite(self, directory: Path) -> Path:
        with self._lock:
            if self._sqlite is None:
                path = directory / "voxbill-template.db"
                build(Settings(database_url=f"sqlite:///{path}"), migrate=True).close()
                self._sqlite = path
            return self._sqlite

    @staticmethod
    def copy_sqlite(template: Path, target: Path) -> None:
        """A consistent copy (the backup API: WAL content included)."""
        with sqlite3.connect(template) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        source.close()
        copy.close()

    @staticmethod
    def _create(template: str | None) -> tuple[str, str]:
        name = f"vbt_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        admin = _admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        admin.dispose()
        assert POSTGRES_URL is not None
        base, _, _ = POSTGRES_URL.rpartition("/")
        return f"{base}/{name}", name

    def fresh_postgres(self, migrated: bool) -> tuple[str, str]:
        """A new database on the test server (a copy of the template when migrated)."""
        return self._create(self.postgres() if migrated else None)

    def drop_later(self, name: str) -> None:
        with self._lock:
            if self._dropper is None:
                self._dropper = threading.Thread(target=self._drop_all, daemon=True)
                self._dropper.start()
        self._drops.put(name)

    def _drop_all(self) -> None:
        admin = _admin()
        while (name := self._drops.get()) is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self._drops.task_done()
        self._drops.task_done()
        admin.dispose()

    def close(self) -> None:
        """Wait for the pending drops, then drop the template."""
        if self._dropper is not None:
            self._drops.put(None)
            self._drops.join()
        if self._postgres is not None:
            admin = _admin()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._postgres}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    templates = _Templates()
    try:
        yield templates
    finally:
        templates.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    _templates: _Templates,
) -> Iterator[str]:
    """A URL of a database, once per dialect: empty, or already at the newest revision
    when the test uses a fixture that would migrate it (``MIGRATING_FIXTURES``)."""
    migrated = not MIGRATING_FIXTURES.isdisjoint(request.fixturenames)
    if request.param == "sqlite":
        path = tmp_path / "voxbill.db"
        if migrated:
            template = _templates.sqlite(tmp_path_factory.getbasetemp())
            _templates.copy_sqlite(template, path)
        yield f"sqlite:///{path}"
        return
    if not POSTGRES_URL:
        pytest.skip("VOXBILL_TEST_POSTGRES_URL is not set: PostgreSQL test skipped")
    url, name = _templates.fresh_postgres(migrated)
    try:
        yield url
    finally:
        _templates.drop_later(name)


@pytest.fixture
def container(database_url: str) -> Iterator[Container]:
    """A migrated database and the services over it, once per dialect."""
    built = build(Settings(database_url=database_url), migrate=True)
    try:
        yield built
    finally:
        built.close()
