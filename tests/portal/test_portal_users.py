"""Portal users created by a parent: ``POST /api/v1/accounts/{id}/users`` (the key's
issuing rules and tenancy), ``voxbill users create``, and ``voxbill demo``'s admin login;
on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from portal_world import PASSWORD, World, sign_in
from typer.testing import CliRunner

from voxbill.cli import demo_data
from voxbill.cli.main import app as cli
from voxbill.domain.access import Role


def _key(world: World, account: int, role: Role) -> dict[str, str]:
    issued = world.container.auth.issue_system(account, role)
    return {"Authorization": f"Bearer {issued.secret}"}


def test_a_parent_creates_users_by_the_key_rules(world: World) -> None:
    client = world.client()
    reseller = _key(world, world.reseller_a, Role.RESELLER)
    path = f"/api/v1/accounts/{world.customer_a}/users"
    made = client.post(
        path, json={"email": "New@Example.com", "role": "customer"}, headers=reseller
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["email"], body["role"], body["account_id"]) == (
        "new@example.com",
        "customer",
        world.customer_a,
    )
    assert len(body["password"]) >= 12  # generated, answered once
    assert sign_in(world.client(), "new@example.com", body["password"]).status_code == 303

    given = client.post(
        path,
        json={"email": "given@example.com", "role": "support", "password": PASSWORD},
        headers=reseller,
    )
    assert given.status_code == 201
    assert given.json()["password"] is None

    refusals = [
        (path, {"email": "x@example.com", "role": "admin"}, reseller, 403),  # not issuable
        (
            f"/api/v1/accounts/{world.customer_b}/users",
            {"email": "x@example.com", "role": "customer"},
            reseller,
            404,  # another subtree
        ),
        (path, {"email": "x@example.com", "role": "user"}, reseller, 422),  # kind mismatch
        (path, {"email": "new@example.com", "role": "customer"}, reseller, 409),  # taken
        (path, {"email": "x@example.com", "role": "customer", "password": "short"}, reseller, 422),
        (
            path,
            {"email": "x@example.com", "role": "customer"},
            _key(world, world.reseller_a, Role.SUPPORT),
            403,  # support is read-only
        ),
    ]
    for url, payload, headers, status in refusals:
        response = client.post(url, json=payload, headers=headers)
        assert response.status_code == status, (payload, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert client.post(path, json={"email": "y@example.com", "role": "user"}).status_code == 401


def test_cli_creates_a_user_and_prints_a_generated_password_once(
    world: World, database_url: str
) -> None:
    runner = CliRunner()
    env = {"VOXBILL_DATABASE_URL": database_url}
    args = ["users", "create", "--account", str(world.customer_a), "--email", "cli@example.com"]
    made = runner.invoke(cli, [*args, "--role", "customer", "--json"], env=env)
    assert made.exit_code == 0, made.output
    body = json.loads(made.stdout)
    assert (body["email"], body["role"]) == ("cli@example.com", "customer")
    assert sign_in(world.client(), "cli@example.com", body["password"]).status_code == 303

    args[-1] = "cli2@example.com"
    given = runner.invoke(cli, [*args, "--role", "user", "--password", PASSWORD], env=env)
    assert given.exit_code != 0  # a user role does not fit a customer account
    again = runner.invoke(cli, [*args[:-1], "cli@example.com", "--role", "customer"], env=env)
    assert again.exit_code != 0  # the email is taken


def test_cli_lists_an_account_s_users_a_page_at_a_time(world: World, database_url: str) -> None:
    runner = CliRunner()
    env = {"VOXBILL_DATABASE_URL": database_url}
    args = ["users", "list", "--account", str(world.reseller_a), "--json"]
    whole = runner.invoke(cli, args, env=env)
    assert whole.exit_code == 0, whole.output
    body = json.loads(whole.stdout)
    emails = [u["email"] for u in body["items"]]
    assert emails == ["reseller-a@example.com", "support-a@example.com"]
    assert body["next_after_id"] is None
    assert "password_hash" not in body["items"][0]
    first = json.loads(runner.invoke(cli, [*args, "--limit", "1"], env=env).stdout)
    assert [u["role"] for u in first["items"]] == ["reseller"]
    cursor = str(first["next_after_id"])
    rest = runner.invoke(cli, [*args, "--limit", "1", "--after-id", cursor], env=env)
    assert [u["role"] for u in json.loads(rest.stdout)["items"]] == ["support"]
    assert runner.invoke(cli, ["users", "list", "--account", "999999"], env=env).exit_code != 0


def test_demo_prints_a_working_admin_login(world: World) -> None:
    first = demo_data.seed(world.container)
    assert first.portal_email == demo_data.PORTAL_EMAIL
    assert sign_in(world.client(), first.portal_email, first.portal_password).status_code == 303
    second = demo_data.seed(world.container)  # run again: a fresh password, the old one dead
    assert second.portal_password != first.portal_password
    assert sign_in(world.client(), first.portal_email, first.portal_password).status_code == 401
    assert sign_in(world.client(), second.portal_email, second.portal_password).status_code == 303
