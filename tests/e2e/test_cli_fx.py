"""``voxbill fx set`` / ``voxbill fx list`` on SQLite and PostgreSQL: exact rates, one
operator or ``--operator``, contract exit codes. In process (``cli_runner``), but for one
smoke test through the installed command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.voxbill_process import RunVoxbill, cli_runner, runner, sqlite_env


@pytest.fixture
def fx(database_url: str, tmp_path: Path) -> RunVoxbill:
    env = {**sqlite_env(tmp_path), "VOXBILL_DATABASE_URL": database_url}
    return cli_runner(env, tmp_path)


def _json(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _init(fx: RunVoxbill, name: str) -> int:
    account_id: int = _json(fx("init", "--operator", name, "--json"))["account_id"]
    return account_id


def test_the_installed_command_sets_and_lists(tmp_path: Path) -> None:
    """``fx set`` and ``fx list`` once each through the installed command, in processes
    of their own (the other tests run the same command line in process)."""
    env = sqlite_env(tmp_path)
    _init(cli_runner(env, tmp_path), "Acme")
    process = runner(env, tmp_path)
    assert _json(process("fx", "set", "USD", "EUR", "0.9", "--json"))["outcome"] == "created"
    assert [r["rate"] for r in _json(process("fx", "list", "--json"))] == ["0.90000000"]


def test_set_then_list_exact_rates(fx: RunVoxbill) -> None:
    missing = fx("fx", "list")
    assert missing.returncode == 1
    assert "voxbill init --operator NAME" in missing.stderr
    operator = _init(fx, "Acme")
    first = _json(fx("fx", "set", "EUR", "USD", "1.08350000", "--from", "2026-01-01", "--json"))
    assert (first["rate"], first["outcome"], first["operator_id"]) == (
        "1.08350000",
        "created",
        operator,
    )
    assert first["effective_from"] == "2026-01-01T00:00:00+00:00"  # no zone: UTC
    now = fx("fx", "set", "usd", "eur", "0.92345")
    assert now.returncode == 0, now.stderr
    assert f"operator {operator}: 1 USD = 0.92345000 EUR from " in now.stdout
    assert "(created)" in now.stdout
    listed = _json(fx("fx", "list", "--json"))
    assert [(r["base"], r["quote"], r["rate"]) for r in listed] == [
        ("EUR", "USD", "1.08350000"),
        ("USD", "EUR", "0.92345000"),
    ]
    in_force = _json(fx("fx", "list", "--at", "2026-02-01T00:00:00Z", "--json"))
    assert [r["rate"] for r in in_force] == ["1.08350000"]
    assert _json(fx("fx", "list", "--base", "USD", "--json"))[0]["quote"] == "EUR"
    table = fx("fx", "list")
    assert table.returncode == 0, table.stderr
    assert "effective from" in table.stdout
    assert "1.08350000" in table.stdout
    assert "2026-01-01 00:00:00" in table.stdout


def test_the_same_pair_and_instant_again_replaces_a_future_rate(fx: RunVoxbill) -> None:
    _init(fx, "Acme")
    args = ("fx", "set", "USD", "EUR", "--from", "2031-01-01T00:00:00Z", "--json")
    assert _json(fx(*args[:4], "1.1", *args[4:]))["outcome"] == "created"
    assert _json(fx(*args[:4], "1.2", *args[4:]))["outcome"] == "replaced"
    assert _json(fx(*args[:4], "1.20", *args[4:]))["outcome"] == "unchanged"
    assert [r["rate"] for r in _json(fx("fx", "list", "--json"))] == ["1.20000000"]


BAD_INPUT = [
    (("USD", "USD", "1"), "[same_currency]"),
    (("USD", "EUR", "0"), "[invalid_fx_rate]"),
    (("USD", "EUR", "0.123456789"), "[invalid_fx_rate]"),
    (("USD", "EUR", "abc"), "is not a decimal number"),
    (("USD", "EUR", "1e0"), "is not a decimal number"),  # issue 10, finding 15
    (("USD", "EUR", "0_9"), "is not a decimal number"),
    (("USD", "EUR", "\uff10.9"), "is not a decimal number"),  # full-width 0
    (("USD", "EURO", "1"), "[invalid_currency]"),
    (("USD", "EUR", "1", "--from", "tomorrow"), "is not an ISO 8601 time"),
]


def test_bad_input_exits_2_with_one_clear_line(fx: RunVoxbill) -> None:
    _init(fx, "Acme")
    for args, message in BAD_INPUT:
        result = fx("fx", "set", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr
        assert result.stderr.startswith("error: ")
        assert result.stderr.count("\n") == 1
    assert _json(fx("fx", "list", "--json")) == []


def test_several_operators_each_set_their_own(fx: RunVoxbill) -> None:
    acme, globex = _init(fx, "Acme"), _init(fx, "Globex")
    ambiguous = fx("fx", "set", "USD", "EUR", "0.9")
    assert ambiguous.returncode == 2
    assert f"{acme} (Acme), {globex} (Globex)" in ambiguous.stderr
    assert "--operator ID" in ambiguous.stderr
    assert fx("fx", "set", "USD", "EUR", "0.9", "--operator", str(acme)).returncode == 0
    assert fx("fx", "set", "USD", "EUR", "2", "--operator", str(globex)).returncode == 0
    mine = _json(fx("fx", "list", "--operator", str(acme), "--json"))
    theirs = _json(fx("fx", "list", "--operator", str(globex), "--json"))
    assert [(r["operator_id"], r["rate"]) for r in mine] == [(acme, "0.90000000")]
    assert [(r["operator_id"], r["rate"]) for r in theirs] == [(globex, "2.00000000")]
    unknown = fx("fx", "list", "--operator", "9999")
    assert unknown.returncode == 2
    assert "--operator 9999" in unknown.stderr
