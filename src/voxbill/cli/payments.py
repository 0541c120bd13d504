"""``voxbill payments …``: online top-ups as an operator sees them."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from voxbill.cli.container import build
from voxbill.cli.output import console, guarded, print_json
from voxbill.domain.money import canonical
from voxbill.domain.payments import Payment

app = typer.Typer(help="Online top-ups (docs/payments.md).", no_args_is_help=True)


def _shown(p: Payment) -> dict[str, Any]:
    return {
        "payment_id": p.id,
        "account_id": p.account_id,
        "provider": p.provider,
        "status": p.status.value,
        "amount": canonical(p.amount),
        "currency": p.currency,
        "reversed_amount": canonical(p.reversed_amount),
        "reference": p.reference,
        "intent": p.intent,
        "credit_transaction_id": p.credit_transaction_id,
        "failure": p.failure,
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
    }


@app.command("list")
@guarded
def list_payments(
    account: Annotated[int | None, typer.Option(help="only this account's payments")] = None,
    status: Annotated[
        str | None, typer.Option(help="only this status (pending, succeeded, failed, …)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="at most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """List online top-ups, newest first."""
    container = build(migrate=True)
    try:
        found = container.payments.list(account_id=account, status=status, limit=limit)
    finally:
        container.close()
    items = [_shown(p) for p in found]
    if as_json:
        print_json(items)
        return
    table = Table("payment", "account", "status", "amount", "reversed", "provider ref", "created")
    for item in items:
        table.add_row(
            item["payment_id"],
            str(item["account_id"]),
            item["status"],
            f"{item['amount']} {item['currency']}",
            item["reversed_amount"],
            item["reference"] or "",
            item["created_at"],
        )
    console.print(table)


@app.command("recharge")
@guarded
def recharge(
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """Run auto-recharge once (from cron, e.g. every minute): charge the saved card of
    each account under its threshold, once per crossing."""
    from voxbill.services.payments.recharge import AutoRecharges

    container = build(migrate=True)
    try:
        outcomes = AutoRecharges(container.payments).run()
    finally:
        container.close()
    items = [
        {"account_id": o.account_id, "action": o.action, "payment_id": o.payment_id}
        for o in outcomes
    ]
    if as_json:
        print_json(items)
        return
    for item in items:
        console.print(
            f"account {item['account_id']}: {item['action']} {item['payment_id'] or ''}".rstrip(),
            markup=False,
        )
