"""Least-cost routing, pure: which vendors (carriers) may take a call, cheapest first.

A vendor is a candidate when it is active, not cut off on its outbound balance (its own
``outbound`` mode, or its partner's when linked: ``domain.partners``), has a
SIP target, and has a rate for the destination in its own deck (the buy price). The
sell-below-cost guard drops a vendor whose buy rate exceeds the operator's sell rate by
more than the configured margin allows: buy > sell * (1 - min_margin).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from voxbill.domain import partners
from voxbill.domain.accounts import Account, AccountStatus, CutoffMode
from voxbill.domain.errors import InvalidInput
from voxbill.domain.ledger import Funds
from voxbill.domain.money import ZERO


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"


@dataclass(frozen=True, slots=True)
class SipTarget:
    """Where a vendor takes calls: ``sip:{tech_prefix}{number}@{host}:{port}``."""

    host: str
    port: int = 5060
    transport: Transport = Transport.UDP
    tech_prefix: str = ""

    def __post_init__(self) -> None:
        host = self.host
        if not host or len(host) > 255 or not all(c.isalnum() or c in ".-:[]" for c in host):
            raise InvalidInput("a SIP target host is a name or an IP address")
        if not 1 <= self.port <= 65535:
            raise InvalidInput("a SIP target port is between 1 and 65535")
        prefix = self.tech_prefix
        if len(prefix) > 20 or not all(c.isalnum() or c in "#*+" for c in prefix):
            raise InvalidInput("a tech prefix is up to 20 digits, letters, '#', '*' or '+'")

    def uri(self, number: str) -> str:
        return f"sip:{self.tech_prefix}{number}@{self.host}:{self.port};transport={self.transport}"


@dataclass(frozen=True, slots=True)
class Vendor:
    """A vendor account with its target and its outbound funds (None: not read)."""

    account: Account
    target: SipTarget
    funds: Funds | None = None
    #: the cutoff mode that governs it: its partner's when linked (``domain.partners``)
    partner_mode: CutoffMode | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """One way out for a call: the vendor, its target, and the buy price per minute."""

    vendor_id: int
    vendor: str
    target: SipTarget
    rate: Decimal  # per minute, in ``currency`` (the vendor deck's)
    currency: str
    prefix: str
    cost_rate: Decimal  # ``rate`` in the sell currency: what the order compares

    def contact(self, number: str) -> str:
        return self.target.uri(number)


def usable(vendor: Vendor) -> bool:
    """Active and not cut off: its governing mode (its partner's when linked, else its
    own) is ``outbound`` and its ledger balance (what we paid it - what it billed us) is
    ≤ 0. ``mutual`` never stops routing to a partner: it cuts what the partner sends us."""
    account = vendor.account
    if account.status is not AccountStatus.ACTIVE:
        return False
    mode = partners.vendor_mode(account, vendor.partner_mode)
    balance = ZERO if vendor.funds is None else vendor.funds.balance
    return not partners.outbound_cut(mode, balance)


def direct_payer(chain: Sequence[Account]) -> Account | None:
    """Whose plan sets the operator's sell rate for a caller's ``chain`` (caller first,
    root last): the highest account below the root that has a rate plan (None: nobody)."""
    payers = [a for a in chain if a.parent_id is not None and a.plans.rate_plan]
    return payers[-1] if payers else None


def within_margin(buy: Decimal, sell: Decimal | None, min_margin: Decimal) -> bool:
    """The sell-below-cost guard; without a known sell rate nothing is checked."""
    if sell is None:
        return True
    return buy <= sell * (1 - min_margin)


def least_cost(routes: Iterable[Route]) -> list[Route]:
    """Cheapest first; ties by vendor name, then id, so the order is stable."""
    return sorted(routes, key=lambda r: (r.cost_rate, r.vendor, r.vendor_id))


def q_values(count: int) -> list[str]:
    """Contact q-values, descending in route order (1.0, 0.9, … never below 0.1)."""
    return [f"{max(10 - i, 1) / 10:.1f}" for i in range(count)]
