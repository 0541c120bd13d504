"""``voxbill vendors …``: where least-cost routing sends a vendor's calls."""

from __future__ import annotations

from typing import Annotated

import typer

from voxbill.bootstrap import build
from voxbill.cli.output import console, guarded, print_json
from voxbill.domain.routing import SipTarget, Transport

app = typer.Typer(help="Vendors (carriers) and their SIP targets.", no_args_is_help=True)


@app.command("set-target")
@guarded
def set_target(
    vendor: Annotated[int, typer.Option("--vendor", min=1, help="vendor account id")],
    host: Annotated[str, typer.Option(help="the vendor's SIP host or IP address")],
    port: Annotated[int, typer.Option(min=1, max=65535, help="SIP port")] = 5060,
    transport: Annotated[Transport, typer.Option(help="udp or tcp")] = Transport.UDP,
    tech_prefix: Annotated[str, typer.Option(help="prepended to the dialled number")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Set (or replace) a vendor's SIP target, as its operator."""
    container = build(migrate=True)
    try:
        target = container.routing.set_target_as_operator(
            vendor, SipTarget(host, port, transport, tech_prefix)
        )
    finally:
        container.close()
    if as_json:
        print_json(
            {
                "account_id": vendor,
                "host": target.host,
                "port": target.port,
                "transport": target.transport.value,
                "tech_prefix": target.tech_prefix,
            }
        )
        return
    console.print(f"vendor {vendor}: {target.uri('NUMBER')}", markup=False)
