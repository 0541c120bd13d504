"""rating: rate plans belong to an operator (``rate_plans.operator_id``)

Revision ID: 0012
Revises: 0011

Until now a plan name was global: one operator's admin uploaded into, listed and assigned
another operator's plans. Each plan now belongs to an operator root and its name is unique
within that operator; accounts keep naming their plans (``rate_plan``, ``sms_plan``,
``did_plan``), a name meaning the plan of that name in the account's own operator.

Existing plans go to their operator, so that every account is priced exactly as before:

* a plan named by accounts of one operator (its customers, resellers or vendors) goes to
  that operator;
* a plan named by accounts of several operators stays with the first of them (lowest id)
  and is copied, with its rates (in deck order), imports and recorded price changes, to
  each of the others: the copies start identical and then live apart;
* a plan no account names goes to the operator whose key last uploaded it over the API
  (the import's ``source`` names the key's account), else to the first operator;
* with no operator at all (an installation used for rating only) plans stay unowned
  (NULL) and the first operator created adopts them (``AccountService.ensure_operator``):
  nothing is dropped.

Downgrade restores the global unique name. It refuses, changing nothing, when two plans
now share a name (two operators each hold one, copies made by the upgrade included): a
global name cannot tell them apart, and dropping either would re-price some accounts.
"""

import re
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_OPERATORS = sa.text(
    "SELECT id FROM accounts WHERE parent_id IS NULL AND kind = 'operator' ORDER BY id"
)
_PLAN_COLUMNS = (
    "name, currency, decimals, rounding, timezone, holidays, version, created_at, updated_at"
)
_RATE_COLUMNS = (
    "prefix, destination, rate, connect_fee, initial_rate, initial_increment, increment, "
    "min_duration, grace, effective_from, effective_to, time_profile"
)
_IMPORT_COLUMNS = "source, mode, rows_read, rows_imported, rows_rejected, imported_at"
_CHANGE_COLUMNS = "prefix, time_profile, destination, change, old_rate, new_rate, effective_from"
_API_SOURCE = re.compile(r"^api:.*@account:(\d+)$")


def _operator_of(path: str) -> int:
    return int(path.strip("/").split("/", 1)[0])


def _users(bind: sa.Connection, operators: set[int]) -> dict[str, set[int]]:
    """Plan name -> the operators whose accounts name it (as any of their three plans)."""
    users: dict[str, set[int]] = defaultdict(set)
    for column in ("rate_plan", "sms_plan", "did_plan"):
        rows = bind.execute(
            sa.text(f"SELECT DISTINCT {column}, path FROM accounts WHERE {column} IS NOT NULL")
        )
        for name, path in rows:
            operator = _operator_of(path)
            if operator in operators:
                users[name].add(operator)
    return users


def _uploader(bind: sa.Connection, plan_id: int, operators: set[int]) -> int | None:
    """The operator whose API key last imported into the plan, if one did."""
    sources = bind.execute(
        sa.text("SELECT source FROM rate_imports WHERE plan_id = :plan ORDER BY id DESC"),
        {"plan": plan_id},
    ).scalars()
    for source in sources:
        found = _API_SOURCE.match(source or "")
        if found is None:
            continue
        path = bind.execute(
            sa.text("SELECT path FROM accounts WHERE id = :id"), {"id": int(found.group(1))}
        ).scalar()
        if path is not None and _operator_of(path) in operators:
            return _operator_of(path)
    return None


def _copy(bind: sa.Connection, plan_id: int, operator_id: int) -> None:
    """The plan, its rates (deck order kept: ids ascend as the originals do), its imports
    and their price changes, as a new plan of ``operator_id``."""
    bind.execute(
        sa.text(
            f"INSERT INTO rate_plans (operator_id, {_PLAN_COLUMNS}) "
            f"SELECT :operator, {_PLAN_COLUMNS} FROM rate_plans WHERE id = :plan"
        ),
        {"operator": operator_id, "plan": plan_id},
    )
    copy_id = bind.execute(
        sa.text(
            "SELECT c.id FROM rate_plans c JOIN rate_plans p ON p.name = c.name "
            "WHERE p.id = :plan AND c.operator_id = :operator"
        ),
        {"operator": operator_id, "plan": plan_id},
    ).scalar_one()
    bind.execute(
        sa.text(
            f"INSERT INTO rates (plan_id, {_RATE_COLUMNS}) "
            f"SELECT :copy, {_RATE_COLUMNS} FROM rates WHERE plan_id = :plan ORDER BY id"
        ),
        {"copy": copy_id, "plan": plan_id},
    )
    imports = bind.execute(
        sa.text("SELECT id FROM rate_imports WHERE plan_id = :plan ORDER BY id"),
        {"plan": plan_id},
    ).scalars()
    for import_id in list(imports):
        bind.execute(
            sa.text(
                f"INSERT INTO rate_imports (plan_id, {_IMPORT_COLUMNS}) "
                f"SELECT :copy, {_IMPORT_COLUMNS} FROM rate_imports WHERE id = :import"
            ),
            {"copy": copy_id, "import": import_id},
        )
        copied_import = bind.execute(
            sa.text("SELECT max(id) FROM rate_imports WHERE plan_id = :copy"), {"copy": copy_id}
        ).scalar_one()
        bind.execute(
            sa.text(
                f"INSERT INTO rate_changes (import_id, plan_id, {_CHANGE_COLUMNS}) "
                f"SELECT :copied_import, :copy, {_CHANGE_COLUMNS} FROM rate_changes "
                "WHERE import_id = :import ORDER BY id"
            ),
            {"copied_import": copied_import, "copy": copy_id, "import": import_id},
        )


def _assign(bind: sa.Connection) -> None:
    order = [int(i) for i in bind.execute(_OPERATORS).scalars()]
    if not order:
        return  # unowned until the first operator is created
    operators = set(order)
    users = _users(bind, operators)
    plans = bind.execute(sa.text("SELECT id, name FROM rate_plans ORDER BY id")).all()
    for plan_id, name in plans:
        owners = sorted(users.get(name, ()))
        if not owners:
            owners = [_uploader(bind, plan_id, operators) or order[0]]
        first, *others = owners
        bind.execute(
            sa.text("UPDATE rate_plans SET operator_id = :operator WHERE id = :plan"),
            {"operator": first, "plan": plan_id},
        )
        for other in others:
            _copy(bind, plan_id, other)


def upgrade() -> None:
    with op.batch_alter_table("rate_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator_id", sa.Integer(), nullable=True))
        batch_op.drop_constraint("uq_rate_plans_name", type_="unique")
    _assign(op.get_bind())
    with op.batch_alter_table("rate_plans", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_rate_plans_operator_id_accounts"), "accounts", ["operator_id"], ["id"]
        )
        batch_op.create_unique_constraint("uq_rate_plans_operator_name", ["operator_id", "name"])
    op.create_index(
        "uq_rate_plans_unowned_name",
        "rate_plans",
        ["name"],
        unique=True,
        sqlite_where=sa.text("operator_id IS NULL"),
        postgresql_where=sa.text("operator_id IS NULL"),
    )


class SharedPlanNames(RuntimeError):
    """The downgrade's refusal: a global name cannot hold two operators' plans."""


def downgrade() -> None:
    bind = op.get_bind()
    shared = bind.execute(
        sa.text(
            "SELECT name, count(*) FROM rate_plans GROUP BY name HAVING count(*) > 1 ORDER BY name"
        )
    ).all()
    if shared:
        names = ", ".join(f"{name!r} ({count} plans)" for name, count in shared)
        raise SharedPlanNames(
            "cannot downgrade below revision 0012: rate plan names are global there, and "
            f"several operators now hold plans named {names}; rename or remove all but one "
            "of each (and the accounts naming them), then downgrade again"
        )
    op.drop_index("uq_rate_plans_unowned_name", table_name="rate_plans")
    with op.batch_alter_table("rate_plans", schema=None) as batch_op:
        batch_op.drop_constraint("uq_rate_plans_operator_name", type_="unique")
        batch_op.drop_constraint(op.f("fk_rate_plans_operator_id_accounts"), type_="foreignkey")
        batch_op.drop_column("operator_id")
        batch_op.create_unique_constraint(op.f("uq_rate_plans_name"), ["name"])
