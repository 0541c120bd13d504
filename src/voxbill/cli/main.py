"""``voxbill``: the command line (Typer + Rich)."""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer

from voxbill import __version__
from voxbill.cli import accounts as accounts_cli
from voxbill.cli import cards as cards_cli
from voxbill.cli import dashboard as dashboard_cli
from voxbill.cli import fraud as fraud_cli
from voxbill.cli import fx as fx_cli
from voxbill.cli import identifiers as identifiers_cli
from voxbill.cli import ledger as ledger_cli
from voxbill.cli import notify as notify_cli
from voxbill.cli import payments as payments_cli
from voxbill.cli import rates as rates_cli
from voxbill.cli import vendors as vendors_cli
from voxbill.cli.container import build, schema_revision
from voxbill.cli.output import console, guarded, print_json
from voxbill.serving import heap

app = typer.Typer(
    help="voxbill: real-time rating, charging and balance control.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(rates_cli.app, name="rates")
app.add_typer(ledger_cli.app, name="ledger")
app.add_typer(vendors_cli.app, name="vendors")
app.add_typer(fx_cli.app, name="fx")
app.add_typer(fraud_cli.app, name="fraud")
app.add_typer(identifiers_cli.app, name="identifiers")
app.add_typer(notify_cli.app, name="notify")
app.add_typer(cards_cli.app, name="cards")
app.add_typer(payments_cli.app, name="payments")
app.add_typer(dashboard_cli.app, name="dashboard")
app.command("rate")(rates_cli.rate)
app.command("init")(accounts_cli.init)
app.add_typer(accounts_cli.apikey_app, name="apikey")
app.add_typer(accounts_cli.users_app, name="users")


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
    container = build(migrate=True)
    try:
        revision = schema_revision(container)
    finally:
        container.close()
    console.print(f"database at revision {revision}", markup=False)


#: How long ``serve --workers N`` waits for a worker to start answering its supervisor.
WORKER_START_SECONDS = 60


def worker_app() -> Any:
    """The API of one ``serve --workers`` process, each with its own container and pool
    (caches per process are fine: every truth is in the database)."""
    from voxbill.portal.app import create_app

    app = create_app(build())
    heap.settle()
    return app


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def _serve(
    host: str,
    port: int,
    *,
    workers: int = 1,
    radius: int | None = None,
    diameter: int | None = None,
    sip: int | None = None,
    sip_processes: int = 1,
) -> None:
    import uvicorn

    from voxbill.api.http_server import uvicorn_options
    from voxbill.portal.app import create_app

    container = build(migrate=True)
    http_options = uvicorn_options(container.settings)  # timeouts and connection caps
    doors: list[Any] = []
    # uvicorn re-raises the SIGTERM it shut down on once it returns: as SystemExit here,
    # so that the doors below are stopped (SIP processes included), not orphaned
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        sip = sip or container.settings.sip_port
        if sip:  # peers bound first: a bad VOXBILL_SIP_PEERS is one line, nothing started
            from voxbill.protocols.sip.running import sip_peers as bind_sip_peers

            sip_peers = bind_sip_peers(container)
        radius = radius or container.settings.radius_port
        if radius:
            from voxbill.protocols.radius import RadiusThread, radius_server

            server = radius_server(container, host, radius)
            doors.append(RadiusThread(server).start())
        diameter = diameter or container.settings.diameter_port
        if diameter:
            from voxbill.protocols.diameter import DiameterOptions, diameter_thread

            options = DiameterOptions.from_settings(container.settings, diameter)
            doors.append(diameter_thread(container, options).start())
        if sip and sip_processes > 1:
            from voxbill.protocols.sip.processes import SipProcesses

            doors.append(SipProcesses(host, sip, sip_processes, sip_peers).start())
        elif sip:
            from voxbill.protocols.sip.running import SipThread, sip_server

            redirect = sip_server(container, host, sip, peers=sip_peers)
            doors.append(SipThread(redirect).start())
        if container.settings.sweeper_interval_seconds > 0:
            from voxbill.jobs.sweeper import SweeperThread

            interval = container.settings.sweeper_interval_seconds
            doors.append(SweeperThread(container.charging, interval).start())
        if container.settings.notify_interval_seconds > 0:
            from voxbill.jobs.notifier import NotifierThread

            every = container.settings.notify_interval_seconds
            doors.append(NotifierThread(container.notify, every).start())
        if container.settings.dashboard_rollup_interval_seconds > 0:
            from voxbill.jobs.rollup import RollupThread

            every = container.settings.dashboard_rollup_interval_seconds
            doors.append(RollupThread(container.dashboard_rollup, every).start())
        if workers > 1:  # the doors and the sweeper above stay in this one process
            heap.settle()
            uvicorn.run(
                "voxbill.cli.main:worker_app",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                log_level="info",
                access_log=False,
                # a worker imports and builds its container before it answers the
                # supervisor: on a loaded host that can take longer than uvicorn's 5 s,
                # and the supervisor would kill and respawn it forever
                timeout_worker_healthcheck=WORKER_START_SECONDS,
                **http_options,
            )
        else:
            app = create_app(container)
            heap.settle()
            uvicorn.run(
                app, host=host, port=port, log_level="info", access_log=False, **http_options
            )
    finally:
        for door in doors:
            door.stop()
        container.close()


@app.command()
@guarded
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8080)")] = None,
    radius: Annotated[
        int | None, typer.Option(help="RADIUS auth port (accounting on PORT+1)")
    ] = None,
    diameter: Annotated[int | None, typer.Option(help="Diameter Gy port (TCP)")] = None,
    sip: Annotated[int | None, typer.Option(help="SIP redirect server port (UDP and TCP)")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="HTTP worker processes (about one per CPU)")
    ] = 1,
    sip_processes: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="processes answering the SIP port (SO_REUSEPORT; one per CPU)"
        ),
    ] = 1,
) -> None:
    """Serve the API, the sweeper and each protocol door (SIP, RADIUS, Diameter) given a port."""
    from voxbill.settings import Settings

    settings = Settings()
    _serve(
        host or settings.host,
        port or settings.port,
        workers=workers,
        radius=radius,
        diameter=diameter,
        sip=sip,
        sip_processes=sip_processes,
    )


@app.command()
@guarded
def demo(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8080,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="load the data and exit")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the demo data as JSON")] = False,
) -> None:
    """Create or upgrade the embedded database, load demo data, then serve the API and
    the portal."""
    from voxbill.cli import demo_data

    container = build(migrate=True)
    try:
        data = demo_data.seed(container)
        database = container.settings.database_url
    finally:
        container.close()
    if as_json:
        print_json(
            {
                "database": database,
                "operator_id": data.operator.id,
                "reseller_id": data.reseller.id,
                "customer_id": data.customer.id,
                "customer_ani": data.customer_ani,
                "api_key": data.admin_key,
                "portal_email": data.portal_email,
                "portal_password": data.portal_password,
            }
        )
    else:
        base = f"http://{host}:{port}/api/v1"
        auth = f"-H 'authorization: Bearer {data.admin_key}'"
        for line in (
            f"database: {database}",
            f"operator {data.operator.name!r} (account {data.operator.id}), reseller "
            f"{data.reseller.name!r} ({data.reseller.id}) on plan {demo_data.WHOLESALE_PLAN}, "
            f"customer {data.customer.name!r} ({data.customer.id}) on plan "
            f"{demo_data.RETAIL_PLAN}, calling from {data.customer_ani}",
            f"admin API key (shown once): {data.admin_key}",
            f"portal: http://{host}:{port}/portal/ — sign in as {data.portal_email} "
            f"with password {data.portal_password} (shown once)",
            f"try: curl -s {auth} {base}/accounts/{data.customer.id}/balance",
            f"     curl -s {auth} -H 'content-type: application/json' -X POST {base}/quote "
            '-d \'{"plan": "demo-retail", "to": "+447911123456", "duration": 95}\'',
        ):
            console.print(line, markup=False)
    if not no_serve:
        console.print(
            f"API on {host}:{port}/api/v1 (docs at /api/v1/docs), portal at "
            f"http://{host}:{port}/portal/; Ctrl-C stops",
            markup=False,
        )
        _serve(host, port)


def main() -> None:
    app()
