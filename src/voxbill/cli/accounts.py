"""``voxbill init``, ``voxbill apikey …`` and ``voxbill users …``: the operator root, its
keys and its portal users."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from voxbill.cli.container import build
from voxbill.cli.output import console, err_console, guarded, print_json
from voxbill.domain.access import Role

apikey_app = typer.Typer(help="API keys: shown once, stored hashed.", no_args_is_help=True)
users_app = typer.Typer(help="Portal users: email + password (argon2id).", no_args_is_help=True)


@guarded
def init(
    operator: Annotated[str, typer.Option("--operator", help="the operator's name")],
    currency: Annotated[str, typer.Option(help="currency of a new operator root")] = "USD",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Create/upgrade the database and the operator's root account; print an admin key once."""
    container = build(migrate=True)
    try:
        root, created = container.accounts.ensure_operator(operator, currency)
        issued = container.auth.issue_system(root.id, Role.ADMIN, label="voxbill init")
    finally:
        container.close()
    if as_json:
        print_json({"account_id": root.id, "api_key": issued.secret})
        return
    state = "created" if created else "exists"
    console.print(f"operator {root.name!r}: account {root.id} ({state})", markup=False)
    console.print(f"admin API key: {issued.secret}", markup=False)
    err_console.print("the key is shown only now: store it safely", markup=False)


@apikey_app.command("create")
@guarded
def create(
    account: Annotated[int, typer.Option("--account", min=1, help="account id")],
    role: Annotated[Role, typer.Option("--role", help="the key's role")],
    label: Annotated[str | None, typer.Option(help="a note to tell keys apart")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Print a new API key for an account, once."""
    container = build(migrate=True)
    try:
        issued = container.auth.issue_system(account, role, label)
    finally:
        container.close()
    if as_json:
        print_json({"api_key": issued.secret, "id": issued.record.id, "account_id": account})
        return
    console.print(issued.secret, markup=False)
    err_console.print(
        f"key {issued.record.prefix} ({role}) for account {account}: shown only now",
        markup=False,
    )


@users_app.command("create")
@guarded
def create_user(
    account: Annotated[int, typer.Option("--account", min=1, help="account id")],
    email: Annotated[str, typer.Option("--email", help="the user's sign-in email")],
    role: Annotated[Role, typer.Option("--role", help="the user's role")],
    password: Annotated[
        str | None, typer.Option(help="the password (default: generated and printed once)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Create a portal user on an account (the operator's authority)."""
    secret = password or secrets.token_urlsafe(12)
    container = build(migrate=True)
    try:
        user_id = container.auth.create_portal_user_system(account, email, secret, role)
    finally:
        container.close()
    shown = None if password else secret
    address = email.strip().lower()
    if as_json:
        print_json(
            {
                "id": user_id,
                "account_id": account,
                "email": address,
                "role": role.value,
                "password": shown,
            }
        )
        return
    console.print(f"portal user {user_id}: {address} ({role}) on account {account}", markup=False)
    if shown is not None:
        console.print(f"password: {shown}", markup=False)
        err_console.print("the password is shown only now", markup=False)


@users_app.command("list")
@guarded
def list_users(
    account: Annotated[int, typer.Option("--account", min=1, help="account id")],
    after_id: Annotated[
        int | None, typer.Option("--after-id", min=0, help="the last id of the page before")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="a page of at most")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """The portal users of an account by id, a page at a time (never a password hash)."""
    container = build(migrate=True)
    try:
        found = container.auth.portal_users_system(account, after_id=after_id, limit=limit)
    finally:
        container.close()
    next_after = found[-1].id if len(found) == limit else None
    if as_json:
        items = [
            {
                "id": u.id,
                "account_id": u.account_id,
                "email": u.email,
                "role": u.role.value,
                "disabled": u.disabled,
                "created_at": u.created_at.isoformat(),
            }
            for u in found
        ]
        print_json({"items": items, "next_after_id": next_after})
        return
    for u in found:
        state = "disabled" if u.disabled else "active"
        console.print(f"{u.id}  {u.email}  {u.role.value}  {state}", markup=False)
    if next_after is not None:
        err_console.print(f"more: --after-id {next_after}", markup=False)
