"""Shared fixtures: a migrated database on SQLite, and on PostgreSQL when configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from voxbill.bootstrap import Container, build
from voxbill.settings import Settings

POSTGRES_URL = os.environ.get("VOXBILL_TEST_POSTGRES_URL")


def pytest_report_header(config: pytest.Config) -> str:
    if POSTGRES_URL:
        return f"PostgreSQL tests: {POSTGRES_URL}"
    return "PostgreSQL tests: SKIPPED (set VOXBILL_TEST_POSTGRES_URL to run them)"


def _fresh_postgres_database() -> tuple[str, str]:
    """A new empty database on the test server, so tests never share state."""
    assert POSTGRES_URL is not None
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"vbt_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}", name


def _drop_postgres_database(name: str) -> None:
    assert POSTGRES_URL is not None
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, once per dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'voxbill.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("VOXBILL_TEST_POSTGRES_URL is not set: PostgreSQL test skipped")
    url, name = _fresh_postgres_database()
    try:
        yield url
    finally:
        _drop_postgres_database(name)


@pytest.fixture
def container(database_url: str) -> Iterator[Container]:
    """A migrated database and the services over it, once per dialect."""
    built = build(Settings(database_url=database_url), migrate=True)
    try:
        yield built
    finally:
        built.close()
