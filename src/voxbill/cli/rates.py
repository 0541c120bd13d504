"""``voxbill rates …`` and ``voxbill rate``: decks in, prices out.

Plans belong to an operator: each command acts for ``--operator ID``, which may be left
out when the installation has one operator (or none yet: its plans then wait for the
first operator, which adopts them); with several it is required.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from voxbill.cli.container import build
from voxbill.cli.operators import OperatorOption, resolve_operator
from voxbill.cli.output import EXIT_BAD_INPUT, console, err_console, fail, guarded, print_json
from voxbill.domain.errors import InvalidInput, RateDeckError
from voxbill.domain.money import RoundingMethod, canonical, to_decimal
from voxbill.domain.plan_markup import Markup
from voxbill.domain.rate_deck import Deck, read_deck

if TYPE_CHECKING:
    from voxbill.services.rating.imports import ImportReport

app = typer.Typer(
    help="Rate plans: import carrier decks, copy plans with a markup, list plans and price "
    "changes.",
    no_args_is_help=True,
)

OwnerOption = Annotated[
    int | None,
    typer.Option("--owner", min=1, help="the reseller account whose own plan it is"),
]


def _lines(
    path: Path, encoding: str, progress: Progress | None, task: TaskID | None
) -> Iterator[str]:
    with path.open(encoding=encoding, newline="") as handle:
        done = 0
        for number, line in enumerate(handle, 1):
            done += len(line)
            if progress is not None and task is not None and number % 20_000 == 0:
                progress.update(task, completed=done)
            yield line
        if progress is not None and task is not None:
            progress.update(task, completed=done)


def read_deck_file(path: Path, timezone: str, *, show_progress: bool) -> Deck:
    size = path.stat().st_size
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            if not show_progress:
                return read_deck(_lines(path, encoding, None, None), timezone=timezone)
            with Progress(
                TextColumn("reading {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            ) as progress:
                task = progress.add_task(path.name, total=size)
                return read_deck(_lines(path, encoding, progress, task), timezone=timezone)
        except UnicodeDecodeError:
            continue
    return fail(f"{path}: the file is neither UTF-8 nor Windows-1252 text")


def _report_dict(report: ImportReport) -> dict[str, object]:
    return {
        "plan": report.plan,
        "currency": report.currency,
        "mode": report.mode,
        "rows_read": report.rows_read,
        "rows_imported": report.rows_imported,
        "rows_rejected": report.rows_rejected,
        "changes": report.changes,
        "import_id": report.import_id,
        "rejected": [{"line": line, "error": msg} for line, msg in report.problems],
        "ignored_columns": report.ignored_columns,
        "dry_run": report.dry_run,
    }


@app.command("import")
@guarded
def import_(
    file: Annotated[Path, typer.Argument(help="rate deck CSV (comma, semicolon or tab)")],
    plan: Annotated[str, typer.Option("--plan", help="rate plan name")],
    currency: Annotated[str | None, typer.Option(help="currency of a new plan, e.g. EUR")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="the deck replaces the plan")] = False,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="import the good rows, report the bad")
    ] = False,
    timezone: Annotated[str | None, typer.Option(help="timezone of a new plan")] = None,
    decimals: Annotated[int | None, typer.Option(help="a new plan rounds to this")] = None,
    rounding: Annotated[RoundingMethod | None, typer.Option(help="rounding method")] = None,
    holidays: Annotated[str | None, typer.Option(help="ISO dates, comma separated")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    operator: OperatorOption = None,
    owner: OwnerOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="report the price changes; write nothing")
    ] = False,
) -> None:
    """Import a rate deck into a plan: all rows or none (unless --skip-bad-rows).

    With --owner, a new plan is that reseller's own, and an existing one must be.
    With --dry-run, the same checks and report against the plan's current rates, and
    nothing is written."""
    if not file.is_file():
        fail(f"{file}: no such file")
    holiday_dates = None
    if holidays:
        try:
            holiday_dates = frozenset(date.fromisoformat(d.strip()) for d in holidays.split(","))
        except ValueError:
            fail(f"--holidays {holidays!r}: give ISO dates such as 2026-12-25,2026-12-26")
    from voxbill.services.rating.imports import PlanOptions

    options = PlanOptions(currency, decimals, rounding, timezone, holiday_dates)
    container = build(migrate=True)
    try:
        operator_id = resolve_operator(container, operator, required=False)
        zone = container.rate_import.plan_timezone(operator_id, plan, options)
        deck = read_deck_file(file, zone, show_progress=not as_json and os.isatty(2))
        try:
            report = container.rate_import.import_deck(
                deck,
                operator_id=operator_id,
                plan=plan,
                source=str(file),
                options=options,
                replace=replace,
                skip_bad_rows=skip_bad_rows,
                owner_account_id=owner,
                dry_run=dry_run,
            )
        except RateDeckError as exc:
            for line, message in exc.problems[:20]:
                err_console.print(f"{file}:{line}: {message}", markup=False)
            if len(exc.problems) > 20:
                err_console.print(f"… and {len(exc.problems) - 20} more bad rows", markup=False)
            fail(exc.message, EXIT_BAD_INPUT)
    finally:
        container.close()
    if as_json:
        print_json(_report_dict(report))
        return
    if report.ignored_columns:
        err_console.print(
            f"warning: ignored columns {', '.join(report.ignored_columns)} "
            "(not rate deck columns: check the spelling if one was meant to be)",
            markup=False,
        )
    for line, message in report.problems:
        err_console.print(f"{file}:{line}: skipped: {message}", markup=False)
    changes = ", ".join(f"{n} {kind}" for kind, n in sorted(report.changes.items())) or "none"
    if report.dry_run:
        console.print(
            f"dry run, nothing written: plan {report.plan} ({report.currency}, "
            f"{report.mode}): {report.rows_read} rows read, {report.rows_imported} would be "
            f"imported, {report.rows_rejected} rejected; price changes: {changes}"
        )
        return
    console.print(
        f"plan {report.plan} ({report.currency}, {report.mode}): "
        f"{report.rows_read} rows read, {report.rows_imported} imported, "
        f"{report.rows_rejected} rejected; price changes: {changes}"
    )


@app.command("list")
@guarded
def list_plans(operator: OperatorOption = None) -> None:
    """List the operator's rate plans with their row counts."""
    container = build(migrate=True)
    try:
        plans = container.rate_plans.plans_of(resolve_operator(container, operator, required=False))
    finally:
        container.close()
    table = Table("plan", "owner", "currency", "rows", "rounding", "timezone", "version")
    for record, count in plans:
        owner = record.owner_account_id
        table.add_row(
            record.name,
            "operator" if owner is None else f"account {owner}",
            record.currency,
            str(count),
            f"{record.decimals} {record.rounding.value}",
            record.timezone,
            str(record.version),
        )
    console.print(table)


@app.command("copy")
@guarded
def copy(
    source: Annotated[str, typer.Option("--from", help="the plan copied")],
    target: Annotated[str, typer.Option("--to", help="the new plan's name (operator-wide)")],
    markup_percent: Annotated[
        str, typer.Option(help="percent added to rates and connect fees, e.g. 20")
    ] = "0",
    markup_fixed: Annotated[str, typer.Option(help="amount added to per-minute rates")] = "0",
    decimals: Annotated[int | None, typer.Option(help="the copy rounds to this")] = None,
    rounding: Annotated[RoundingMethod | None, typer.Option(help="rounding method")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    operator: OperatorOption = None,
    owner: OwnerOption = None,
) -> None:
    """Copy a plan with a markup into a new plan (a reseller's own with --owner)."""
    markup = Markup(
        to_decimal(markup_percent, what="--markup-percent"),
        to_decimal(markup_fixed, what="--markup-fixed"),
    )
    from voxbill.services.rating.reseller_plans import CopyRequest

    request = CopyRequest(target, source, markup, decimals, rounding)
    container = build(migrate=True)
    try:
        operator_id = resolve_operator(container, operator, required=False)
        counts = {p.name: n for p, n in container.rate_plans.plans_of(operator_id)}
        show = not as_json and os.isatty(2)
        with Progress(
            TextColumn("copying {task.description}"),
            BarColumn(),
            TextColumn("{task.completed} of {task.total} rows"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not show,
        ) as progress:
            task = progress.add_task(source, total=counts.get(source, 0))
            report = container.reseller_plans.copy_of(
                operator_id,
                request,
                owner_account_id=owner,
                progress=lambda done: progress.update(task, completed=done),
            )
    finally:
        container.close()
    plan = report.plan
    data: dict[str, object] = {
        "plan": plan.name,
        "from_plan": report.from_plan,
        "owner_account_id": plan.owner_account_id,
        "currency": plan.currency,
        "decimals": plan.decimals,
        "rounding": plan.rounding.value,
        "rows": report.rows,
        "import_id": report.import_id,
    }
    if as_json:
        print_json(data)
        return
    whose = "the operator's" if owner is None else f"account {owner}'s"
    console.print(
        f"plan {plan.name} ({plan.currency}, {whose}): {report.rows} rows copied from "
        f"{report.from_plan} {markup.describe()}, rounded to {plan.decimals} "
        f"{plan.rounding.value}",
        markup=False,
    )


@app.command("delete")
@guarded
def delete(
    plan: Annotated[str, typer.Option("--plan", help="rate plan name")],
    operator: OperatorOption = None,
) -> None:
    """Delete a plan no account is rated by, with its rows and price history."""
    container = build(migrate=True)
    try:
        container.reseller_plans.delete_of(
            resolve_operator(container, operator, required=False), plan
        )
    finally:
        container.close()
    console.print(f"plan {plan} deleted", markup=False)


@app.command("changes")
@guarded
def changes(
    plan: Annotated[str, typer.Option("--plan", help="rate plan name")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    operator: OperatorOption = None,
) -> None:
    """Price changes recorded by the imports of a plan (for price-change notices)."""
    container = build(migrate=True)
    try:
        operator_id = resolve_operator(container, operator, required=False)
        rows = container.rate_plans.changes_of(operator_id, plan)
    finally:
        container.close()
    items = [
        {
            "import_id": r.import_id,
            "prefix": r.prefix,
            "destination": r.destination,
            "time_profile": r.time_profile,
            "change": r.change,
            "old_rate": canonical(r.old_rate) if r.old_rate is not None else None,
            "new_rate": canonical(r.new_rate) if r.new_rate is not None else None,
            "effective_from": r.effective_from.isoformat() if r.effective_from else None,
        }
        for r in rows
    ]
    if as_json:
        print_json(items)
        return
    table = Table("import", "prefix", "destination", "change", "old", "new", "effective")
    for item in items:
        table.add_row(
            *(
                str(item[k] or "")
                for k in (
                    "import_id",
                    "prefix",
                    "destination",
                    "change",
                    "old_rate",
                    "new_rate",
                    "effective_from",
                )
            )
        )
    console.print(table)


def parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"--at {value!r} is not an ISO 8601 time") from None


@guarded
def rate(
    plan: Annotated[str, typer.Option("--plan", help="rate plan name")],
    to: Annotated[str, typer.Option("--to", help="called number (+CC…, 00CC… or CC…)")],
    duration: Annotated[int, typer.Option("--duration", min=0, help="seconds")],
    at: Annotated[str | None, typer.Option(help="call start, ISO 8601 (default now, UTC)")] = None,
    available: Annotated[
        str | None, typer.Option(help="also print the longest call this amount pays for")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    operator: OperatorOption = None,
) -> None:
    """Price one call on the operator's plan."""
    amount: Decimal | None = to_decimal(available, what="--available") if available else None
    container = build(migrate=True)
    try:
        operator_id = resolve_operator(container, operator, required=False)
        result = container.rating.quote(operator_id, plan, to, duration, parse_at(at), amount)
    finally:
        container.close()
    r = result.rating
    data: dict[str, object] = {
        "cost": canonical(r.cost),
        "currency": r.currency,
        "billed_seconds": r.billed_seconds,
        "prefix": r.prefix,
        "destination": r.destination,
        "rate": canonical(r.rate),
        "exact_cost": canonical(r.exact_cost),
        "plan": r.plan,
        "number": result.number,
        "duration": duration,
        "at": result.at.isoformat(),
    }
    if result.max_duration is not None:
        data["max_duration"] = result.max_duration
    if as_json:
        print_json(data)
        return
    console.print(
        f"{r.cost} {r.currency}  {result.number} → {r.prefix} {r.destination}  "
        f"{r.billed_seconds} s billed at {r.rate}/min",
        markup=False,
    )
    if result.max_duration is not None:
        console.print(f"{available} pays for at most {result.max_duration} s", markup=False)
