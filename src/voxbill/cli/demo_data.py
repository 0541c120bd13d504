"""Demo data for ``voxbill demo``: an operator, a reseller, a customer, plans and money.

Everything goes through the same services as the API, and is idempotent: running the
demo again finds what it made before and adds nothing twice.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import Account
from voxbill.domain.errors import Conflict
from voxbill.domain.rate_deck import read_deck
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.rating.imports import PlanOptions

OPERATOR = "Demo Telecom"
CURRENCY = "USD"
TIMEZONE = "Europe/London"
RETAIL_PLAN = "demo-retail"
WHOLESALE_PLAN = "demo-wholesale"
CUSTOMER_ANI = "+15551230001"
#: the demo operator's portal admin (``voxbill demo`` prints a fresh password each run)
PORTAL_EMAIL = "admin@demo.voxbill.test"


@dataclass(frozen=True)
class DemoData:
    operator: Account
    reseller: Account
    customer: Account
    admin_key: str
    customer_ani: str
    portal_email: str = PORTAL_EMAIL
    portal_password: str = ""


def _import_plan(container: Container, operator: Account, plan: str, filename: str) -> None:
    """The deck into the demo operator's own plan (other operators' plans are theirs)."""
    text = resources.files("voxbill.demo").joinpath(filename).read_text("utf-8")
    deck = read_deck(text.splitlines(keepends=True), timezone=TIMEZONE)
    container.rate_import.import_deck(
        deck,
        operator_id=operator.id,
        plan=plan,
        source=filename,
        replace=True,
        options=PlanOptions(currency=CURRENCY, timezone=TIMEZONE),
    )


def _child(
    container: Container, admin: Principal, parent: Account, fields: dict[str, Any]
) -> Account:
    for existing in container.accounts.children(admin, parent.id, after_id=None, limit=1000):
        if existing.name == fields["name"]:
            return existing
    return container.accounts.create(admin, {**fields, "parent_id": parent.id})


def seed(container: Container) -> DemoData:
    """Create (or find) the demo tree and fund it; returns a fresh admin key."""
    operator, _ = container.accounts.ensure_operator(OPERATOR, CURRENCY)
    _import_plan(container, operator, RETAIL_PLAN, "demo_rates.csv")
    _import_plan(container, operator, WHOLESALE_PLAN, "wholesale_rates.csv")
    admin = Principal(operator.id, operator.path, Role.ADMIN)
    reseller = _child(
        container,
        admin,
        operator,
        {"kind": "reseller", "name": "Acme Voice", "rate_plan": WHOLESALE_PLAN},
    )
    customer = _child(
        container,
        admin,
        reseller,
        {
            "kind": "customer",
            "name": "Alice Ltd",
            "rate_plan": RETAIL_PLAN,
            "alert_balance": Decimal("5.00"),
            "max_concurrent_calls": 10,
        },
    )
    with contextlib.suppress(Conflict):  # seeded by an earlier run
        container.identifiers.add(admin, customer.id, IdentifierType.ANI, CUSTOMER_ANI, None)
    container.ledger.top_up(
        reseller.id, Decimal("100.00"), actor="demo", idempotency_key="demo:topup:reseller"
    )
    container.ledger.transfer(
        reseller.id, customer.id, Decimal("25.00"), actor="demo", idempotency_key="demo:fund"
    )
    issued = container.auth.issue_system(operator.id, Role.ADMIN, label="voxbill demo")
    password = secrets.token_urlsafe(12)  # a fresh one each run: printed once
    if not container.auth.reset_portal_password_system(PORTAL_EMAIL, password):
        container.auth.create_portal_user_system(operator.id, PORTAL_EMAIL, password, Role.ADMIN)
    return DemoData(
        operator, reseller, customer, issued.secret, CUSTOMER_ANI, PORTAL_EMAIL, password
    )
