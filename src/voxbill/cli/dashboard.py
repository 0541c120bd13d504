"""``voxbill dashboard …``: the dashboard's per-minute roll-up (``voxbill serve`` runs
the same pass every ``VOXBILL_DASHBOARD_ROLLUP_INTERVAL_SECONDS``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from voxbill.cli.container import build
from voxbill.cli.output import console, err_console, guarded, print_json

app = typer.Typer(help="The dashboard's figures.", no_args_is_help=True)


@app.command("rollup")
@guarded
def rollup(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="forget the roll-up and add every CDR again")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Add the CDRs written since the last pass (at least
    VOXBILL_DASHBOARD_ROLLUP_LAG_SECONDS ago) to the dashboard's per-minute rows. The
    dashboard is exact without it (it reads the rest from the CDRs); the pass makes its
    first load of a day cheap. Safe to run beside `voxbill serve` on any node."""
    container = build(migrate=True)
    try:
        with Progress(
            TextColumn("rolling up CDRs"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json or not err_console.is_terminal,
        ) as progress:
            task = progress.add_task("rollup", total=None)

            def shown(done: int, total: int) -> None:
                progress.update(task, completed=done, total=max(total, 1))

            pass_ = container.dashboard_rollup
            added = pass_.rebuild(progress=shown) if rebuild else pass_.run_once(progress=shown)
    finally:
        container.close()
    if as_json:
        print_json({"added": added, "rebuilt": rebuild})
        return
    what = "rebuilt from" if rebuild else "added"
    console.print(f"dashboard roll-up: {what} {added} CDRs")
