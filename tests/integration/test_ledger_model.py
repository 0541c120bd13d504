"""Random operation sequences checked step by step against a plain in-memory model.

The model is the specification in a dozen lines: available = balance + credit - reserved,
nothing may take it below the block balance except a charge of a held amount. Every
answer of the service (a new balance or a refusal) must match the model's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from support.ledger_accounts import open_account
from voxbill.bootstrap import Container
from voxbill.domain.errors import HoldConflict, InsufficientFunds

LATER = datetime.now(UTC) + timedelta(hours=1)


@dataclass
class Model:
    credit: dict[int, D]
    block: dict[int, D]
    balance: dict[int, D] = field(default_factory=dict)
    reserved: dict[int, D] = field(default_factory=dict)
    holds: dict[str, tuple[int, D, str]] = field(default_factory=dict)

    def allows(self, account: int, debit: D) -> bool:
        available = self.balance[account] + self.credit[account] - self.reserved[account]
        return available - debit >= self.block[account]


def _cents(rng: random.Random, most: int) -> D:
    return D(rng.randint(1, most)) / 100


def test_random_operations_match_the_model(container: Container):
    ledger, rng = container.ledger, random.Random(20261121)
    accounts = [
        open_account(container.db, block_balance="0"),
        open_account(container.db, block_balance="2.50"),
        open_account(container.db, billing="postpaid", credit_limit="20"),
        open_account(container.db, block_balance="-5"),  # may go 5 below zero
    ]
    model = Model(
        credit={accounts[0]: D(0), accounts[1]: D(0), accounts[2]: D(20), accounts[3]: D(0)},
        block={accounts[0]: D(0), accounts[1]: D("2.5"), accounts[2]: D(0), accounts[3]: D(-5)},
    )
    for account in accounts:
        model.balance[account] = model.reserved[account] = D(0)

    refusals = settled = 0
    for step in range(300):
        op = rng.choice(["top_up", "adjust", "adjust", "transfer", "place", "post", "void"])
        account = rng.choice(accounts)
        if op == "top_up":
            amount = _cents(rng, 1500)
            result = ledger.top_up(account, amount, actor="model")
            model.balance[account] += amount
            assert result.balance_after == model.balance[account], step
        elif op == "adjust":
            amount = _cents(rng, 1000) * rng.choice([1, -1])
            allowed = amount > 0 or model.allows(account, -amount)
            try:
                result = ledger.adjust(account, amount, "model", actor="model")
            except InsufficientFunds:
                assert not allowed, step
                refusals += 1
            else:
                assert allowed, step
                model.balance[account] += amount
                assert result.balance_after == model.balance[account], step
        elif op == "transfer":
            target = rng.choice([a for a in accounts if a != account])
            amount = _cents(rng, 1000)
            allowed = model.allows(account, amount)
            try:
                ledger.transfer(account, target, amount, actor="model")
            except InsufficientFunds:
                assert not allowed, step
                refusals += 1
            else:
                assert allowed, step
                model.balance[account] -= amount
                model.balance[target] += amount
        elif op == "place":
            amount = _cents(rng, 800)
            allowed = model.allows(account, amount)
            try:
                ledger.place_hold(account, amount, reference=f"h{step}", expires_at=LATER)
            except InsufficientFunds:
                assert not allowed, step
                refusals += 1
            else:
                assert allowed, step
                model.reserved[account] += amount
                model.holds[f"h{step}"] = (account, amount, "open")
        elif model.holds:
            reference = rng.choice(sorted(model.holds))
            held_on, amount, status = model.holds[reference]
            try:
                if op == "post":
                    charge = (amount * rng.randint(0, 100) / 100).quantize(D("0.01"))
                    ledger.post_holds(reference, [charge])
                else:
                    ledger.void_holds(reference)
            except HoldConflict:
                assert status != "open", step
                continue
            if status == "open":
                settled += 1
                model.reserved[held_on] -= amount
                if op == "post":
                    model.balance[held_on] -= charge
                model.holds[reference] = (held_on, amount, "posted" if op == "post" else "voided")
        for checked in accounts:
            view = ledger.balance(checked)
            assert (view.balance, view.reserved) == (
                model.balance[checked],
                model.reserved[checked],
            ), (step, op)
    assert refusals > 10  # the sequence does probe the floors
    assert settled > 10
    assert ledger.verify() == []
