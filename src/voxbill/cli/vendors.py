"""``voxbill vendors …``: where least-cost routing sends a vendor's calls, and which
partner's customer side a vendor is the outbound side of."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from voxbill.cli.container import build
from voxbill.cli.operators import OperatorOption, require_operator
from voxbill.cli.output import console, guarded, print_json
from voxbill.domain.access import Principal, Role
from voxbill.domain.ledger import money_text
from voxbill.domain.routing import SipTarget, Transport
from voxbill.services.routing.service import VendorListing

#: vendors read a page at a time
PAGE = 500

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


@app.command("list")
@guarded
def list_vendors(
    operator: OperatorOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """List an operator's vendors with their balance, buy plan, partner and SIP target."""
    container = build(migrate=True)
    try:
        operator_id = require_operator(container, operator)
        principal = Principal(operator_id, f"/{operator_id}/", Role.ADMIN)
        found: list[VendorListing] = []
        while True:
            after = found[-1].account.id if found else None
            page = container.routing.vendor_page(principal, after_id=after, limit=PAGE)
            found.extend(page)
            if len(page) < PAGE:
                break
    finally:
        container.close()
    items = [
        {
            "id": v.account.id,
            "name": v.account.name,
            "status": v.account.status.value,
            "currency": v.account.currency,
            "balance": money_text(v.balance or Decimal(0)),
            "rate_plan": v.account.plans.rate_plan,
            "partner_id": v.account.partner_id,
            "sip_target": None if v.target is None else v.target.uri("NUMBER"),
        }
        for v in found
    ]
    if as_json:
        print_json(items)
        return
    table = Table("id", "name", "status", "balance", "buy plan", "partner", "SIP target")
    for item in items:
        table.add_row(
            str(item["id"]),
            str(item["name"]),
            str(item["status"]),
            f"{item['balance']} {item['currency']}",
            str(item["rate_plan"] or "—"),
            str(item["partner_id"] or "—"),
            str(item["sip_target"] or "—"),
        )
    console.print(table)
    if not items:
        console.print(f"operator {operator_id}: no vendors", markup=False)


@app.command("link")
@guarded
def link(
    vendor: Annotated[int, typer.Option("--vendor", min=1, help="vendor account id")],
    partner: Annotated[
        int | None,
        typer.Option("--partner", min=1, help="the same company's customer or reseller account id"),
    ] = None,
    unlink: Annotated[bool, typer.Option("--unlink", help="remove the vendor's link")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Link a vendor with its partner's customer side (a two-way partner, whose cutoff
    mode then governs both directions), as its operator; print the partner's position."""
    if (partner is None) == (not unlink):
        raise typer.BadParameter("give --partner ID or --unlink")
    container = build(migrate=True)
    try:
        account = container.accounts.link_partner_as_operator(vendor, partner)
        principal = Principal(account.operator_id, f"/{account.operator_id}/", Role.ADMIN)
        found = container.accounts.partner_position(principal, vendor)
    finally:
        container.close()
    shown = {
        "vendor_id": vendor,
        "partner_id": account.partner_id,
        "cutoff_mode": found.cutoff_mode.value,
        "inbound_balance": money_text(found.inbound_balance),
        "outbound_balance": money_text(found.outbound_balance),
        "net_position": money_text(found.net_position),
    }
    if as_json:
        print_json(shown)
        return
    if account.partner_id is None:
        console.print(f"vendor {vendor}: no partner", markup=False)
        return
    console.print(
        f"vendor {vendor} ↔ partner {account.partner_id} ({shown['cutoff_mode']}): inbound "
        f"{shown['inbound_balance']}, outbound {shown['outbound_balance']}, "
        f"net {shown['net_position']}",
        markup=False,
    )
