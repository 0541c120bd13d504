"""``voxbill fraud …``: the fraud guard an operator runs (docs/charging.md, "Fraud guard")."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from voxbill.cli.container import build
from voxbill.cli.operators import OperatorOption, require_operator
from voxbill.cli.output import console, guarded, print_json
from voxbill.domain.errors import InvalidInput
from voxbill.domain.fraud import check_prefix

if TYPE_CHECKING:
    from voxbill.services.ports.fraud import HighRiskPrefix

app = typer.Typer(help="The fraud guard: high-risk destinations.", no_args_is_help=True)
high_risk_app = typer.Typer(
    help="Destinations the operator marks high risk (refused unless opted in).",
    no_args_is_help=True,
)
app.add_typer(high_risk_app, name="high-risk")


def _from_csv(path: Path) -> list[tuple[str, str | None]]:
    """``prefix[,note]`` per line; a header line starting with ``prefix`` is skipped."""
    found: list[tuple[str, str | None]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or (number == 1 and row[0].strip().lower() == "prefix"):
                continue
            try:
                prefix = check_prefix(row[0])
            except InvalidInput as exc:
                raise InvalidInput(f"line {number}: {exc.message}") from None
            note = row[1].strip() if len(row) > 1 and row[1].strip() else None
            if note is not None and len(note) > 200:
                raise InvalidInput(f"line {number}: a note has at most 200 characters")
            found.append((prefix, note))
    return found


@high_risk_app.command("add")
@guarded
def add(
    prefixes: Annotated[list[str] | None, typer.Argument(help="E.164 prefixes, e.g. 882")] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="a file of prefix[,note] lines", exists=True)
    ] = None,
    note: Annotated[str | None, typer.Option(help="why (for the given prefixes)")] = None,
    operator: OperatorOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Mark prefixes high risk (those marked already stay as they are)."""
    wanted = [(check_prefix(p), note) for p in prefixes or []]
    if csv_file is not None:
        wanted += _from_csv(csv_file)
    if not wanted:
        raise InvalidInput("give prefixes or --csv")
    container = build(migrate=True)
    added: list[HighRiskPrefix] = []
    try:
        operator_id = require_operator(container, operator)
        with Progress(console=console, transient=True, disable=as_json) as progress:
            task = progress.add_task("adding", total=len(wanted))
            for start in range(0, len(wanted), 1000):
                chunk = wanted[start : start + 1000]
                added += container.high_risk.add_to(operator_id, chunk)
                progress.advance(task, len(chunk))
    finally:
        container.close()
    if as_json:
        print_json({"added": [p.prefix for p in added]})
        return
    console.print(f"operator {operator_id}: {len(added)} of {len(wanted)} prefixes added")


@high_risk_app.command("list")
@guarded
def list_prefixes(
    operator: OperatorOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The operator's high-risk prefixes."""
    container = build(migrate=True)
    try:
        operator_id = require_operator(container, operator)
        found = container.high_risk.of_operator(operator_id)
    finally:
        container.close()
    if as_json:
        print_json([{"prefix": p.prefix, "note": p.note} for p in found])
        return
    table = Table("prefix", "note", "since")
    for p in found:
        table.add_row(p.prefix, p.note or "", p.created_at.isoformat())
    console.print(table)


@high_risk_app.command("remove")
@guarded
def remove(
    prefix: Annotated[str, typer.Argument(help="the prefix to unmark")],
    operator: OperatorOption = None,
) -> None:
    """Unmark a prefix."""
    container = build(migrate=True)
    try:
        operator_id = require_operator(container, operator)
        container.high_risk.remove_from(operator_id, prefix)
    finally:
        container.close()
    console.print(f"operator {operator_id}: {check_prefix(prefix)} removed")
