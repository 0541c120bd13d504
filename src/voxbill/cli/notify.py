"""``voxbill notify …``: deliver the notifications due now (for cron and tests; ``voxbill
serve`` runs the same worker in a thread)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from voxbill.cli.container import build
from voxbill.cli.output import EXIT_REFUSED, console, err_console, guarded, print_json

app = typer.Typer(help="Notifications: email, SMS and webhooks.", no_args_is_help=True)


@app.command("run-once")
@guarded
def run_once(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Fan the outbox out and deliver what is due now, then exit: 0 when no attempt
    failed, 1 when one did (it is retried later, or dead after the last attempt)."""
    container = build(migrate=True)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("delivering"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
            disable=as_json or not err_console.is_terminal,
        ) as progress:
            task = progress.add_task("deliver", total=None)
            summary = container.notify.run_once(lambda: progress.advance(task))
    finally:
        container.close()
    if as_json:
        print_json(
            {
                "ok": summary.ok,
                "fanned_out": summary.fanned_out,
                "attempted": summary.attempted,
                "delivered": summary.delivered,
                "failed": summary.failed,
                "dead": summary.dead,
            }
        )
    else:
        console.print(
            f"{summary.fanned_out} deliveries made from the outbox; {summary.attempted} "
            f"attempted: {summary.delivered} delivered, {summary.failed} to retry, "
            f"{summary.dead} dead",
            markup=False,
        )
    if not summary.ok:
        raise typer.Exit(EXIT_REFUSED)


@app.command("retry")
@guarded
def retry(
    notification_id: Annotated[int, typer.Argument(help="the dead notification's id", min=1)],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Send a dead notification once more at the next delivery run (``voxbill notify
    run-once`` or the ``voxbill serve`` worker); refused (exit 1) when it is not dead or
    its subscription was deleted."""
    container = build(migrate=True)
    try:
        delivery = container.subscriptions.retry_system(notification_id)
    finally:
        container.close()
    if as_json:
        print_json(
            {
                "id": delivery.id,
                "status": delivery.status.value,
                "attempts": delivery.attempts,
                "next_attempt_at": delivery.next_attempt_at.isoformat()
                if delivery.next_attempt_at
                else None,
            }
        )
    else:
        console.print(
            f"notification {delivery.id} will be sent again at the next delivery run",
            markup=False,
        )
