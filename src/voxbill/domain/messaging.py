"""Pricing a message at one level of the chain, and who may send it: pure SMS rules.

An SMS plan is an ordinary rate plan whose ``rate`` is the price PER SEGMENT (the
per-minute fields mean nothing for a message); a row's ``connect_fee``, when set, is a
fee per message. Cost = connect fee + segments x price, rounded once by the plan's rule.

A plan row may be keyed by a mobile network (MCC/MNC) instead of a dial prefix. Such a
row is stored under :func:`network_key`, ``0`` + the MNC's length + MCC + MNC (e.g.
``03310260`` for 310-260, ``0220801`` for 208-01): E.164 numbers never start with 0, so
no dialled number can reach it, and since each key's length is fixed by its own MNC
length the longest-prefix lookup can only match it exactly. When a message names its
network and the plan prices that network, that price beats the destination prefix's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from voxbill.domain.accounts import Account
from voxbill.domain.charging import blocked
from voxbill.domain.errors import NoRate, Refused
from voxbill.domain.ledger import Funds
from voxbill.domain.money import canonical, round_amount
from voxbill.domain.partners import cut_off
from voxbill.domain.rates import RatePlan
from voxbill.domain.sms import MccMnc

#: Messages longer than this many segments are refused (a UDH counts parts in one octet).
MAX_SEGMENTS = 255


def network_key(network: MccMnc) -> str:
    """The plan key of a mobile network's row (see the module docstring)."""
    return f"0{len(network.mnc)}{network.mcc}{network.mnc}"


def describe_key(key: str) -> str:
    """A stored plan key as people write it: ``310-260`` for a network, else the prefix."""
    if len(key) in (7, 8) and key[0] == "0" and key[1] in "23":
        return f"{key[2:5]}-{key[5:]}"
    return key


@dataclass(frozen=True, slots=True)
class MessagePrice:
    """What one level pays for a message by its plan."""

    plan: str
    currency: str
    key: str  # the prefix, or the network as ``310-260``
    destination: str
    price: Decimal  # per segment
    fee: Decimal  # per message
    segments: int
    cost: Decimal


def price_message(
    plan: RatePlan,
    number: str,
    segments: int,
    at: datetime,
    network: MccMnc | None = None,
) -> MessagePrice:
    """Price ``segments`` to ``number`` (E.164 digits); the network's row first if any."""
    row = None
    if network is not None:
        try:
            row = plan.lookup(network_key(network), at)
        except NoRate:
            row = None
    if row is None:
        row = plan.lookup(number, at)
    exact = row.connect_fee + row.rate * segments
    return MessagePrice(
        plan=plan.name,
        currency=plan.currency,
        key=describe_key(row.prefix),
        destination=row.destination,
        price=row.rate,
        fee=row.connect_fee,
        segments=segments,
        cost=round_amount(exact, plan.decimals, plan.rounding),
    )


def check_senders(
    chain: Sequence[Account],
    funds: Callable[[Account], Funds],
    outbound_of: Callable[[Account], Decimal] = lambda account: Decimal(0),
) -> None:
    """Every level from the sender up to the operator may send by the rule calls follow:
    active (else ``blocked``), and no partner of the chain cut off (``cut_off``: its
    inbound balance, or for a mutual partner its net position, at or below zero)."""
    why = blocked(chain)
    if why is not None:
        raise Refused(f"{why}: messages are refused", code="blocked")
    why = cut_off(chain, lambda account: funds(account).balance, outbound_of)
    if why is not None:
        raise Refused(f"{why}: messages are refused", code="cut_off")


def money_text(amount: Decimal) -> str:
    """The same decimal string on every dialect (PostgreSQL returns 8 places)."""
    return canonical(amount.normalize())


@dataclass(frozen=True)
class LevelCharge:
    """What one level of the chain paid, by its own SMS plan."""

    account_id: int
    plan: str
    key: str  # the matched prefix, or the network as 310-260
    destination: str
    price: Decimal  # per segment
    cost: Decimal
    currency: str
    balance_after: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "plan": self.plan,
            "key": self.key,
            "destination": self.destination,
            "price": money_text(self.price),
            "cost": money_text(self.cost),
            "currency": self.currency,
            "balance_after": money_text(self.balance_after),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LevelCharge:
        return cls(
            account_id=int(data["account_id"]),
            plan=str(data["plan"]),
            key=str(data["key"]),
            destination=str(data["destination"]),
            price=Decimal(data["price"]),
            cost=Decimal(data["cost"]),
            currency=str(data["currency"]),
            balance_after=Decimal(data["balance_after"]),
        )


@dataclass(frozen=True)
class MessageRecord:
    """A charged message as stored: unique by (``scope_account_id``, ``message_id``), with
    the request's ``fingerprint`` and what every level paid (``cost``, ``currency`` and
    ``balance_after`` are the first charged level's). ``id`` is 0 until stored."""

    operator_id: int
    scope_account_id: int
    message_id: str
    fingerprint: str
    account_id: int
    sender: str
    recipient: str
    mcc_mnc: str | None
    segments: int
    encoding: str
    cost: Decimal
    currency: str
    balance_after: Decimal
    charges: tuple[LevelCharge, ...]
    transaction_id: int | None
    created_at: datetime
    id: int = 0
