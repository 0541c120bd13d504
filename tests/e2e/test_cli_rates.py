"""The ``voxbill`` command end to end: decks in, exact prices out, contract exit codes.
In process (``run_voxbill``), but for the import of ``rated`` and the worked example,
which go through the installed command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.voxbill_process import RunVoxbill, cli_runner, runner, sqlite_env

DECK = """prefix;destination;rate;connect_fee;initial_increment;increment;min_duration;grace
33;France;0.05;0.01;30;6;0;0
336;France Mobile;0.09;0;60;60;0;0
44;United Kingdom;0.1;0;1;1;0;0
4915;Germany Mobile;0.11;0.02;1;1;30;0
447;UK Mobile;0.05;0.01;30;6;0;3
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_deck(run_voxbill: RunVoxbill, tmp_path: Path) -> None:
    deck = write(tmp_path, "deck.csv", DECK)
    result = run_voxbill("rates", "import", str(deck), "--plan", "retail", "--currency", "EUR")
    assert result.returncode == 0, result.stderr
    assert "5 rows read, 5 imported, 0 rejected" in result.stdout


@pytest.fixture(scope="module")
def rated_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """A database with the deck imported once (by the installed command), for the
    read-only tests of ``voxbill rate``; its environment and directory."""
    directory = tmp_path_factory.mktemp("rated")
    env = sqlite_env(directory)
    import_deck(runner(env, directory), directory)
    return env, directory


@pytest.fixture(scope="module")
def rated(rated_env: tuple[dict[str, str], Path]) -> RunVoxbill:
    return cli_runner(*rated_env)


def rate_json(run_voxbill: RunVoxbill, *args: str) -> dict[str, object]:
    result = run_voxbill("rate", "--plan", "retail", *args, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_import_then_rate_the_worked_example(rated_env: tuple[dict[str, str], Path]) -> None:
    data = rate_json(runner(*rated_env), "--to", "+33 1 23 45 67 89", "--duration", "40")
    assert data["cost"] == "0.0450"
    assert data["currency"] == "EUR"
    assert data["billed_seconds"] == 42
    assert data["prefix"] == "33"
    assert data["destination"] == "France"
    assert data["number"] == "33123456789"


def test_rate_rounds_once(rated: RunVoxbill) -> None:
    data = rate_json(rated, "--to", "00442079460958", "--duration", "70")
    assert data["cost"] == "0.1167"
    assert str(data["exact_cost"]).startswith("0.116666666")
    assert data["billed_seconds"] == 70
    assert data["rate"] == "0.1"
    minimum = rate_json(rated, "--to", "4915112345678", "--duration", "10")
    assert (minimum["cost"], minimum["billed_seconds"]) == ("0.0750", 30)
    grace = rate_json(rated, "--to", "+447911123456", "--duration", "3")
    assert (grace["cost"], grace["billed_seconds"]) == ("0.0000", 0)


def test_rate_with_available_prints_max_duration(rated: RunVoxbill) -> None:
    data = rate_json(rated, "--to", "+33123", "--duration", "0", "--available", "0.045")
    assert data["max_duration"] == 42


def test_rate_refusals_and_exit_codes(rated: RunVoxbill) -> None:
    no_rate = rated("rate", "--plan", "retail", "--to", "+81312345678", "--duration", "60")
    assert no_rate.returncode == 1
    assert "no rate" in no_rate.stderr
    assert no_rate.stderr.strip().count("\n") == 0  # one clear line
    unknown = rated("rate", "--plan", "nope", "--to", "+33123", "--duration", "60")
    assert unknown.returncode == 2
    assert "nope" in unknown.stderr
    bad_number = rated("rate", "--plan", "retail", "--to", "hello", "--duration", "60")
    assert bad_number.returncode == 2
    assert "invalid_number" in bad_number.stderr
    negative = rated("rate", "--plan", "retail", "--to", "+33123", "--duration", "-5")
    assert negative.returncode == 2
    bad_at = rated("rate", "--plan", "retail", "--to", "+33123", "--duration", "5", "--at", "soon")
    assert bad_at.returncode == 2
    float_money = rated(
        "rate", "--plan", "retail", "--to", "+33123", "--duration", "5", "--available", "NaN"
    )
    assert float_money.returncode == 2


def test_bad_row_exits_2_with_file_and_line(run_voxbill: RunVoxbill, tmp_path: Path) -> None:
    import_deck(run_voxbill, tmp_path)
    bad = write(tmp_path, "bad.csv", "prefix,rate\n33,0.07\n\n34,0.0.2\n35,0.03\n")
    result = run_voxbill("rates", "import", str(bad), "--plan", "retail")
    assert result.returncode == 2
    assert f"{bad}:4:" in result.stderr
    assert "nothing was imported" in result.stderr
    still = rate_json(run_voxbill, "--to", "+33123", "--duration", "40")
    assert still["cost"] == "0.0450"  # the plan is unchanged


def test_skip_bad_rows(run_voxbill: RunVoxbill, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.csv", "prefix,rate\n33,0.07\n34,x\n35,0.03\n")
    result = run_voxbill(
        "rates", "import", str(bad), "--plan", "p", "--currency", "USD", "--skip-bad-rows", "--json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["rows_read"], report["rows_imported"], report["rows_rejected"]) == (3, 2, 1)
    assert report["rejected"] == [
        {
            "line": 3,
            "error": "rate 'x' is not a decimal number "
            "(ASCII digits with an optional decimal point or comma)",
        }
    ]
    assert report["currency"] == "USD"


def test_a_cell_past_the_csv_limit_is_one_line_not_a_traceback(
    run_voxbill: RunVoxbill, tmp_path: Path
) -> None:
    """Issue 10, finding 17: the csv module's ``field larger than field limit`` error."""
    huge = write(
        tmp_path, "huge.csv", f'prefix,rate,destination\n33,0.07,France\n34,0.1,"{"x" * 200_000}"\n'
    )
    result = run_voxbill("rates", "import", str(huge), "--plan", "p", "--currency", "USD")
    assert result.returncode == 2
    assert result.stderr == (
        "error: line 3: a cell is longer than 4096 characters; nothing was imported "
        "[invalid_rate_deck]\n"
    )
    assert result.stdout == ""
    listed = run_voxbill("rates", "list")
    assert listed.returncode == 0, listed.stderr
    assert " p " not in listed.stdout  # no plan was created


def test_a_long_cell_is_a_bad_row_with_its_line(run_voxbill: RunVoxbill, tmp_path: Path) -> None:
    long = write(tmp_path, "long.csv", f"prefix,rate,notes\n33,0.07,ok\n34,0.1,{'n' * 5000}\n")
    result = run_voxbill("rates", "import", str(long), "--plan", "p", "--currency", "USD")
    assert result.returncode == 2
    assert f"{long}:3: column 3 is longer than 4096 characters\n" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("34,1_0", "rate '1_0' is not a decimal number"),  # Decimal() read it as 10
        ("34,\u0661\u0662", "rate '\u0661\u0662' is not a decimal number"),  # Arabic-Indic 12
        ("34,0.1,6_0", "increment '6_0' must be a whole number"),  # int() read it as 60
    ],
)
def test_deck_numbers_in_a_lax_form_are_bad_rows(
    run_voxbill: RunVoxbill, tmp_path: Path, cell: str, message: str
) -> None:
    """Issue 10, finding 15."""
    deck = write(tmp_path, "lax.csv", f"prefix,rate,increment\n33,0.07,60\n{cell}\n")
    result = run_voxbill("rates", "import", str(deck), "--plan", "p", "--currency", "USD")
    assert result.returncode == 2
    assert f"{deck}:3: {message}" in result.stderr
    assert "nothing was imported" in result.stderr


@pytest.mark.parametrize("available", ["1_000", "\uff11\uff12", " 1"])
def test_available_takes_only_the_published_decimal_form(rated: RunVoxbill, available: str) -> None:
    result = rated(
        "rate", "--plan", "retail", "--to", "+33123", "--duration", "5", "--available", available
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --available ")
    assert "is not a decimal number" in result.stderr
    assert result.stderr.count("\n") == 1


def test_import_usage_errors(run_voxbill: RunVoxbill, tmp_path: Path) -> None:
    missing = run_voxbill("rates", "import", str(tmp_path / "nope.csv"), "--plan", "p")
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    deck = write(tmp_path, "deck.csv", DECK)
    no_currency = run_voxbill("rates", "import", str(deck), "--plan", "p")
    assert no_currency.returncode == 2
    assert "currency" in no_currency.stderr
    import_deck(run_voxbill, tmp_path)
    mismatch = run_voxbill("rates", "import", str(deck), "--plan", "retail", "--currency", "USD")
    assert mismatch.returncode == 2
    assert "EUR" in mismatch.stderr


def test_rates_changes_json(run_voxbill: RunVoxbill, tmp_path: Path) -> None:
    import_deck(run_voxbill, tmp_path)
    update = write(
        tmp_path,
        "update.csv",
        "prefix,rate,effective_from\n33,0.06,2026-04-01T00:00:00Z\n336,0.08,\n49,0.02,\n",
    )
    result = run_voxbill("rates", "import", str(update), "--plan", "retail", "--replace")
    assert result.returncode == 0, result.stderr
    changes = run_voxbill("rates", "changes", "--plan", "retail", "--json")
    assert changes.returncode == 0, changes.stderr
    items = json.loads(changes.stdout)
    latest = max(item["import_id"] for item in items)
    summary = {
        item["prefix"]: (item["change"], item["old_rate"], item["new_rate"], item["effective_from"])
        for item in items
        if item["import_id"] == latest
    }
    assert summary == {
        "33": ("increased", "0.05", "0.06", "2026-04-01T00:00:00+00:00"),
        "336": ("decreased", "0.09", "0.08", None),
        "49": ("new", None, "0.02", None),
        "44": ("removed", "0.1", None, None),
        "4915": ("removed", "0.11", None, None),
        "447": ("removed", "0.05", None, None),
    }
    unknown = run_voxbill("rates", "changes", "--plan", "nope", "--json")
    assert unknown.returncode == 2


def test_demo_without_serving(run_voxbill: RunVoxbill) -> None:
    result = run_voxbill("demo", "--no-serve")
    assert result.returncode == 0, result.stderr
    assert "demo-retail" in result.stdout
    again = run_voxbill("demo", "--no-serve")  # idempotent
    assert again.returncode == 0, again.stderr
    quote = run_voxbill(
        "rate",
        "--plan",
        "demo-retail",
        "--to",
        "+12125550100",
        "--duration",
        "95",
        "--json",
    )
    assert quote.returncode == 0, quote.stderr
    data = json.loads(quote.stdout)
    # New York: 0.009/min, 6/6 -> 96 s -> 0.0144
    assert (data["prefix"], data["billed_seconds"], data["cost"]) == ("1212", 96, "0.0144")
    assert data["currency"] == "USD"
    # Monday 03:00 in London is off-peak ("mon-fri 20:00-08:00|…"), not a gap that would
    # fall back to the UK landline prefix 44.
    night = run_voxbill(
        "rate",
        "--plan",
        "demo-retail",
        "--to",
        "+447911123456",
        "--duration",
        "95",
        "--at",
        "2026-03-02T03:00:00Z",
        "--json",
    )
    assert night.returncode == 0, night.stderr
    data = json.loads(night.stdout)
    # 0.05/min, 0.01 connect fee, 30/6: 96 s -> 0.01 + 0.08
    assert (data["prefix"], data["rate"], data["cost"]) == ("447", "0.05", "0.0900")
