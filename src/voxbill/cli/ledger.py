"""``voxbill ledger …``: checks on the double-entry ledger."""

from __future__ import annotations

from typing import Annotated

import typer

from voxbill.cli.container import build
from voxbill.cli.output import EXIT_REFUSED, console, err_console, guarded, print_json

app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)


@app.command("verify")
@guarded
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Recompute every balance and reservation from the journal; exit 1 on any difference."""
    container = build(migrate=True)
    try:
        differences = container.ledger.verify()
        summary = container.ledger.summary()
    finally:
        container.close()
    if as_json:
        print_json({"ok": not differences, "differences": [str(d) for d in differences], **summary})
    else:
        for difference in differences:
            console.print(str(difference), markup=False)
        if not differences:
            console.print(
                f"ledger ok: {summary['books']} books, {summary['transactions']} transactions, "
                f"{summary['entries']} entries, {summary['open_holds']} open holds",
                markup=False,
            )
    if differences:
        err_console.print(
            f"error: ledger verify found {len(differences)} difference(s)", markup=False
        )
        raise typer.Exit(EXIT_REFUSED)
