"""``voxbill identifiers …``: list and delete how callers are recognised, as the operator.

Deleting is also how an operator frees a value (an ANI, a SIP user, a network) that one
of its tenants registered for the wrong account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from voxbill.cli.container import build
from voxbill.cli.output import console, guarded, print_json

if TYPE_CHECKING:
    from voxbill.services.access.identifiers import CallerIdentifier

app = typer.Typer(
    help="Caller identifiers (ANI, SIP user, IP network, card).", no_args_is_help=True
)


def _json(identifier: CallerIdentifier) -> dict[str, object]:
    return {
        "id": identifier.id,
        "account_id": identifier.account_id,
        "type": identifier.type.value,
        "value": identifier.value,
        "created_at": identifier.created_at.isoformat(),
    }


@app.command("list")
@guarded
def list_identifiers(
    account: Annotated[int, typer.Option("--account", min=1, help="account id")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON array")] = False,
) -> None:
    """The identifiers of one account."""
    container = build(migrate=True)
    try:
        found = container.identifiers.list_as_operator(account)
    finally:
        container.close()
    if as_json:
        print_json([_json(i) for i in found])
        return
    for i in found:
        console.print(f"{i.id}  {i.type.value}  {i.value}", markup=False)


@app.command("delete")
@guarded
def delete(
    identifier: Annotated[int, typer.Argument(min=1, help="identifier id")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Delete one identifier: its caller is no longer recognised by it."""
    container = build(migrate=True)
    try:
        deleted = container.identifiers.delete_as_operator(identifier)
    finally:
        container.close()
    if as_json:
        print_json(_json(deleted))
        return
    console.print(
        f"deleted identifier {deleted.id} ({deleted.type.value} {deleted.value}) "
        f"of account {deleted.account_id}",
        markup=False,
    )
