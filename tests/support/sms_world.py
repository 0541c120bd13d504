"""A small SMS world: an operator, a reseller and its customer, each with an SMS plan.

operator (USD)
└── reseller R   sms_plan sms-wholesale   balance 100.00
    └── customer C  sms_plan sms-retail    balance 10.00   ANI +15550001111

Per segment (rounded once to 4 places):
    prefix / network   retail (C)          wholesale (R)
    44                 0.0400              0.0200
    447                0.0500              0.0300
    234-15 (network)   0.0450              0.0250
    33                 0.0600 + 0.01 fee   0.0300
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.rate_deck import read_deck
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.messaging.service import MessageRequest
from voxbill.services.rating.imports import PlanOptions

RETAIL = (
    "prefix,mcc_mnc,rate,connect_fee,destination\n"
    "44,,0.04,,UK\n"
    "447,,0.05,,UK mobile\n"
    ",234-15,0.045,,UK Vodafone\n"
    "33,,0.06,0.01,France\n"
)
WHOLESALE = (
    "prefix,mcc_mnc,rate,destination\n"
    "44,,0.02,UK\n"
    "447,,0.03,UK mobile\n"
    ",23415,0.025,UK Vodafone\n"
    "33,,0.03,France\n"
)
CUSTOMER_ANI = "+15550001111"


@dataclass
class SmsWorld:
    container: Container
    admin: Principal
    root: int
    reseller: int
    customer: int

    def customer_account(self, name: str, **fields: Any) -> int:
        """Another customer of the reseller on the retail plan (funded separately)."""
        values = {"kind": "customer", "name": name, "parent_id": self.reseller}
        values |= {"sms_plan": "sms-retail", **fields}
        return self.container.accounts.create(self.admin, values).id

    def top_up(self, account: int, amount: str) -> None:
        self.container.ledger.top_up(account, Decimal(amount), actor=self.admin.actor)

    def balance(self, account: int) -> Decimal:
        return self.container.ledger.balance(account).balance

    def principal(self, account: int, role: Role) -> Principal:
        found = self.container.accounts.visible(self.admin, account)
        return Principal(found.id, found.path, role)


def message(message_id: str, text: str = "hello", **fields: Any) -> MessageRequest:
    values: dict[str, Any] = {"sender": CUSTOMER_ANI, "recipient": "+447700900123"}
    return MessageRequest(message_id=message_id, text=text, **(values | fields))


def build_sms_world(container: Container) -> SmsWorld:
    root, _ = container.accounts.ensure_operator("SMS Telecom", "USD")
    admin = Principal(root.id, root.path, Role.ADMIN)
    for plan, deck in (("sms-retail", RETAIL), ("sms-wholesale", WHOLESALE)):
        container.rate_import.import_deck(
            read_deck(deck.splitlines(keepends=True)),
            operator_id=root.id,
            plan=plan,
            source="test",
            options=PlanOptions(currency="USD"),
        )
    accounts = container.accounts
    reseller = accounts.create(
        admin,
        {"kind": "reseller", "name": "R", "parent_id": root.id, "sms_plan": "sms-wholesale"},
    ).id
    customer = accounts.create(
        admin, {"kind": "customer", "name": "C", "parent_id": reseller, "sms_plan": "sms-retail"}
    ).id
    container.identifiers.add(admin, customer, IdentifierType.ANI, CUSTOMER_ANI, None)
    world = SmsWorld(container, admin, root.id, reseller, customer)
    world.top_up(reseller, "100.00")
    world.top_up(customer, "10.00")
    return world


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Start ``count`` threads at once (a barrier); each result or the exception raised."""
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
