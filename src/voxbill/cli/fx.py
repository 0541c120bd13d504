"""``voxbill fx …``: an operator's exchange rates, as its admin sets and reads them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from voxbill.cli.container import build
from voxbill.cli.operators import OperatorOption, require_operator
from voxbill.cli.output import console, guarded, print_json
from voxbill.domain.errors import InvalidInput
from voxbill.domain.money import STORAGE_PLACES, canonical, to_decimal

if TYPE_CHECKING:
    from voxbill.services.ledger.fx import FxRate

app = typer.Typer(
    help="Exchange rates of an operator: what converts its books between currencies.",
    no_args_is_help=True,
)

PAGE = 1000
_PLACES = Decimal(1).scaleb(-STORAGE_PLACES)  # rates are shown with every stored place


def _instant(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{option} {value!r} is not an ISO 8601 time, e.g. 2026-01-01T00:00:00Z"
        ) from None


def _shown(rate: FxRate) -> dict[str, Any]:
    return {
        "id": rate.id,
        "operator_id": rate.operator_id,
        "base": rate.base,
        "quote": rate.quote,
        "rate": canonical(rate.rate.quantize(_PLACES)),
        "effective_from": rate.effective_from.isoformat(),
        "created_at": rate.created_at.isoformat(),
        "updated_at": rate.updated_at.isoformat(),
    }


@app.command("set")
@guarded
def set_rate(
    base: Annotated[str, typer.Argument(help="currency converted from, e.g. USD")],
    quote: Annotated[str, typer.Argument(help="currency converted to, e.g. EUR")],
    rate: Annotated[str, typer.Argument(help="1 BASE = RATE QUOTE, e.g. 0.92345")],
    since: Annotated[
        str | None,
        typer.Option("--from", help="ISO 8601 instant it takes over (default: now; no zone: UTC)"),
    ] = None,
    operator: OperatorOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Set an exchange rate (the same BASE QUOTE and --from again replaces it)."""
    value = to_decimal(rate, what="RATE")
    effective_from = _instant(since, "--from")
    container = build(migrate=True)
    try:
        operator_id = require_operator(container, operator)
        result = container.ledger.set_fx_rate(operator_id, base, quote, value, effective_from)
    finally:
        container.close()
    shown = _shown(result.fx_rate)
    if as_json:
        print_json({**shown, "outcome": result.outcome})
        return
    console.print(
        f"operator {operator_id}: 1 {shown['base']} = {shown['rate']} {shown['quote']} "
        f"from {shown['effective_from']} ({result.outcome})",
        markup=False,
    )


@app.command("list")
@guarded
def list_rates(
    base: Annotated[str | None, typer.Option(help="only rates from this currency")] = None,
    quote: Annotated[str | None, typer.Option(help="only rates to this currency")] = None,
    at: Annotated[
        str | None, typer.Option(help="only each pair's rate in force at this ISO 8601 instant")
    ] = None,
    operator: OperatorOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """List an operator's exchange rates, oldest first."""
    instant = _instant(at, "--at")
    container = build(migrate=True)
    try:
        operator_id = require_operator(container, operator)
        rates: list[FxRate] = []
        while True:
            page = container.ledger.fx_rates(
                operator_id,
                base=base,
                quote=quote,
                at=instant,
                after_id=rates[-1].id if rates else None,
                limit=PAGE,
            )
            rates.extend(page)
            if len(page) < PAGE:
                break
    finally:
        container.close()
    items = [_shown(r) for r in rates]
    if as_json:
        print_json(items)
        return
    table = Table("base", "quote", "rate", "effective from (UTC)", "created", "updated")
    for item, fx_rate in zip(items, rates, strict=True):
        table.add_row(
            item["base"],
            item["quote"],
            item["rate"],
            *(
                f"{moment:%Y-%m-%d %H:%M:%S}"
                for moment in (fx_rate.effective_from, fx_rate.created_at, fx_rate.updated_at)
            ),
        )
    console.print(table)
    if not items:
        console.print(f"operator {operator_id}: no exchange rates match", markup=False)
