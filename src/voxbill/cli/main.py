"""``voxbill``: the command line (Typer + Rich)."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

import typer

from voxbill import __version__
from voxbill.bootstrap import build
from voxbill.cli import accounts as accounts_cli
from voxbill.cli import ledger as ledger_cli
from voxbill.cli import rates as rates_cli
from voxbill.cli.output import console, guarded
from voxbill.settings import Settings

app = typer.Typer(
    help="voxbill: real-time rating, charging and balance control.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(rates_cli.app, name="rates")
app.add_typer(ledger_cli.app, name="ledger")
app.command("rate")(rates_cli.rate)
app.command("init")(accounts_cli.init)
app.add_typer(accounts_cli.apikey_app, name="apikey")


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="print the version")] = False,
) -> None:
    if version:
        console.print(__version__)
        raise typer.Exit(0)


@db_app.command("upgrade")
@guarded
def db_upgrade() -> None:
    """Apply all migrations to the configured database (VOXBILL_DATABASE_URL)."""
    from voxbill.storage.migrate import current_revision

    container = build(migrate=True)
    try:
        revision = current_revision(container.db.engine)
    finally:
        container.close()
    console.print(f"database at revision {revision}", markup=False)


def _serve(host: str, port: int) -> None:
    import uvicorn

    from voxbill.api.app import create_app

    container = build(migrate=True)
    try:
        uvicorn.run(create_app(container), host=host, port=port, log_level="info", access_log=False)
    finally:
        container.close()


@app.command()
@guarded
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8080)")] = None,
) -> None:
    """Serve the API (and, as later releases add them, portal, jobs and protocol doors)."""
    settings = Settings()
    _serve(host or settings.host, port or settings.port)


@app.command()
@guarded
def demo(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8080,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="load the data and exit")] = False,
) -> None:
    """Create or upgrade the embedded database, load demo data, then serve the API."""
    from voxbill.services.rate_deck import read_deck
    from voxbill.services.rate_import import PlanOptions

    container = build(migrate=True)
    try:
        text = resources.files("voxbill.demo").joinpath("demo_rates.csv").read_text("utf-8")
        deck = read_deck(text.splitlines(keepends=True), timezone="Europe/London")
        report = container.rate_import.import_deck(
            deck,
            plan="demo-retail",
            source="demo_rates.csv",
            replace=True,
            options=PlanOptions(currency="USD", timezone="Europe/London"),
        )
        database = container.settings.database_url
    finally:
        container.close()
    console.print(f"database: {database}", markup=False)
    console.print(
        f"rate plan {report.plan}: {report.rows_imported} rates in {report.currency}", markup=False
    )
    console.print(
        f"try: curl -s -X POST http://{host}:{port}/api/v1/quote "
        "-H 'content-type: application/json' "
        '-d \'{"plan": "demo-retail", "to": "+447911123456", "duration": 95}\'',
        markup=False,
    )
    if not no_serve:
        console.print(
            f"API on http://{host}:{port}/api/v1 (docs at /api/v1/docs); Ctrl-C stops", markup=False
        )
        _serve(host, port)


def main() -> None:
    app()
