"""``voxbill cards …``: generate a batch of calling cards for the printer, activate and
deactivate its cards, delete a batch none of whose cards was ever activated, as the
operator (``docs/cards.md``).

Generating hashes every PIN with argon2id (tens of ms a card): a Rich progress bar shows
it on the terminal. The printer's CSV (with the PINs) is written once, to ``--output``
(created, never overwritten, readable by its owner only) or to standard output.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from voxbill.cli.container import build
from voxbill.cli.output import console, err_console, fail, guarded, print_json
from voxbill.domain.cards import MAX_BATCH_SIZE, Funding
from voxbill.domain.money import canonical, parse_decimal

if TYPE_CHECKING:
    from voxbill.services.cards.service import GeneratedBatch

app = typer.Typer(help="Calling-card batches.", no_args_is_help=True)

#: whose ``--idempotency-key`` values they are: the command line's, per operator
CLI_SCOPE = "cli"


def _write_once(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{path} exists: the PINs are written to a new file only")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        out.write(text)


@app.command("generate")
@guarded
def generate(
    owner: Annotated[int, typer.Option("--owner", min=1, help="customer or reseller id")],
    count: Annotated[int, typer.Option("--count", min=1, max=MAX_BATCH_SIZE)],
    face_value: Annotated[str, typer.Option("--face-value", help="each card's value")],
    currency: Annotated[str | None, typer.Option("--currency")] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="the cards' rate plan")] = None,
    expires: Annotated[
        datetime | None, typer.Option("--expires", help="no card usable from then (ISO 8601)")
    ] = None,
    valid_days: Annotated[
        int | None, typer.Option("--valid-days", min=1, help="usable days after activation")
    ] = None,
    pin_length: Annotated[int, typer.Option("--pin-length", min=8, max=12)] = 10,
    funding: Annotated[Funding, typer.Option("--funding")] = Funding.OPERATOR,
    name: Annotated[str | None, typer.Option("--name")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="the printer's CSV (default: stdout)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the batch as JSON on stderr")] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="generate once per key: run again with it, the first batch is named "
            "(its PINs are not shown again); with other options, refused",
        ),
    ] = None,
) -> None:
    """Generate COUNT inactive cards under OWNER; print the printer's CSV (PINs once)."""
    if idempotency_key is not None and (
        not idempotency_key or len(idempotency_key) > 200 or not idempotency_key.isprintable()
    ):
        fail("--idempotency-key must be 1 to 200 printable characters")
    # with a key, an existing --output may be the first run's: the key decides below
    if output is not None and output.exists() and idempotency_key is None:
        fail(f"{output} exists: the PINs are written to a new file only")
    if expires is not None and expires.tzinfo is None:
        fail("--expires needs a UTC offset (e.g. 2027-06-30T23:59:59+00:00)")
    from voxbill.domain.cards import BatchKey
    from voxbill.services.cards.service import BatchRequest, request_fingerprint

    request = BatchRequest(
        owner_id=owner,
        count=count,
        face_value=parse_decimal(face_value, what="face value"),
        currency=currency,
        rate_plan=plan,
        expires_at=expires,
        valid_days=valid_days,
        pin_length=pin_length,
        funding=funding,
        name=name,
    )
    container = build(migrate=True)
    try:
        principal = container.cards.operator_of(owner)
        if output is not None and output.exists():  # with a key: only its replay is fine
            assert idempotency_key is not None
            key = BatchKey(CLI_SCOPE, idempotency_key, request_fingerprint(request))
            earlier = container.cards.earlier(principal, key)
            if earlier is None:
                fail(f"{output} exists: the PINs are written to a new file only")
            _summary(earlier, None, as_json=as_json)
            return
        with Progress(
            TextColumn("hashing PINs"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("pins", total=count)
            generated = container.cards.generate(
                principal,
                request,
                progress=lambda done: progress.update(task, completed=done),
                idempotency_key=idempotency_key,
                idempotency_scope=CLI_SCOPE if idempotency_key is not None else None,
            )
    finally:
        container.close()
    if generated.csv is None:  # an earlier run with the key made it: no PINs to write
        _summary(generated, None, as_json=as_json)
        return
    if output is None:
        console.file.write(generated.csv)
    else:
        _write_once(output, generated.csv)
    _summary(generated, output, as_json=as_json)


def _summary(generated: GeneratedBatch, output: Path | None, *, as_json: bool) -> None:
    batch = generated.batch
    if as_json:
        err_console.print_json(
            data={
                "batch_id": batch.id,
                "size": batch.size,
                "first_serial": batch.first_serial,
                "last_serial": batch.last_serial,
                "face_value": canonical(batch.face_value),
                "currency": batch.currency,
                "output": None if output is None else str(output),
                "replayed": generated.replayed,
            }
        )
        return
    if generated.replayed:
        err_console.print(
            f"batch {batch.id} was generated earlier with this idempotency key: nothing new "
            f"(its PINs were shown once; delete it with `voxbill cards delete {batch.id}` "
            "if they were lost)",
            markup=False,
        )
        return
    err_console.print(
        f"batch {batch.id}: {batch.size} inactive cards {batch.first_serial}..{batch.last_serial}"
        f" of {canonical(batch.face_value)} {batch.currency}"
        + ("" if output is None else f", PINs written to {output}"),
        markup=False,
    )


@app.command("activate")
@guarded
def activate(
    batch: Annotated[int, typer.Argument(min=1, help="card batch id")],
    from_serial: Annotated[str | None, typer.Option("--from", help="first serial")] = None,
    to_serial: Annotated[str | None, typer.Option("--to", help="last serial")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Activate the batch's inactive cards (all, or --from..--to), funding each once."""
    container = build(migrate=True)
    try:
        principal = container.cards.operator_of(container.cards.owner_of(batch))
        done = container.cards.activate(principal, batch, from_serial, to_serial)
    finally:
        container.close()
    if as_json:
        print_json(
            {
                "batch_id": done.batch_id,
                "activated": done.activated,
                "funded": done.funded,
                "amount": canonical(done.amount),
                "currency": done.currency,
                "transaction_id": done.transaction_id,
            }
        )
        return
    console.print(
        f"batch {batch}: {done.activated} cards activated, {done.funded} funded "
        f"({canonical(done.amount)} {done.currency})",
        markup=False,
    )


@app.command("deactivate")
@guarded
def deactivate(
    batch: Annotated[int, typer.Argument(min=1, help="card batch id")],
    from_serial: Annotated[str | None, typer.Option("--from", help="first serial")] = None,
    to_serial: Annotated[str | None, typer.Option("--to", help="last serial")] = None,
) -> None:
    """Stop the batch's active cards (all, or --from..--to) from calling; money stays."""
    container = build(migrate=True)
    try:
        principal = container.cards.operator_of(container.cards.owner_of(batch))
        count = container.cards.deactivate(principal, batch, from_serial, to_serial)
    finally:
        container.close()
    console.print(f"batch {batch}: {count} cards deactivated", markup=False)


@app.command("delete")
@guarded
def delete(
    batch: Annotated[int, typer.Argument(min=1, help="card batch id")],
) -> None:
    """Delete a batch generated by mistake, with its cards: refused (batch_in_use) once
    any of them was activated, funded or used."""
    container = build(migrate=True)
    try:
        principal = container.cards.operator_of(container.cards.owner_of(batch))
        deleted = container.cards.delete(principal, batch)
    finally:
        container.close()
    console.print(f"batch {batch}: deleted with its {deleted.size} cards", markup=False)
