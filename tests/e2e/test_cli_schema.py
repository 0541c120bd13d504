"""A database migrated by a newer voxbill: every command refuses it in one line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from support.voxbill_process import runner, sqlite_env


def test_commands_refuse_an_unknown_schema_revision_in_one_line(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    run = runner(env, tmp_path)
    assert run("init", "--operator", "Acme", "--json").returncode == 0
    database = env["VOXBILL_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    for command in (("ledger", "verify"), ("fx", "list"), ("serve", "--port", "0")):
        refused = run(*command)
        assert refused.returncode != 0, command
        assert "Traceback" not in refused.stderr, refused.stderr
        assert "schema revision '9999_future'" in refused.stderr
        assert "[unknown_schema]" in refused.stderr
