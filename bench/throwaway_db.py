"""A PostgreSQL database made for one benchmark run and dropped after it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

#: where benchmarks create their databases (any database of the server does)
ADMIN_URL = os.environ.get(
    "VOXBILL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def throwaway_postgres(admin_url: str = ADMIN_URL) -> Iterator[str]:
    """The URL of a new empty database beside ``admin_url``'s, dropped (even while still
    in use) when the block ends."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"vbbench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
