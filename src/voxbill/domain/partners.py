"""Partners in both directions (seed 003, PRODUCT.md): who is cut off, and when. Pure.

A **partner** is a company that both sends us traffic (its customer or reseller account:
the *inbound side*) and terminates ours (a vendor account linked to it by the vendor's
``partner_id``: the *outbound side*). Both balances are ledger balances, never
balance + credit and never minus open holds:

- **inbound** = the customer side's balance: what it paid us - what we billed it;
- **outbound** = the vendor's balance: what we paid it - what it billed us (negative:
  we owe it);
- **net position** = inbound - outbound: what it paid us and earned terminating our
  traffic, minus what we billed it and paid it (the seed's "outbound - inbound", seen
  from the partner's side).

The **cutoff mode belongs to the company**: for a linked pair the customer side's mode
governs both directions (the vendor keeps ``none``); a vendor without a link uses its
own (``none`` or ``outbound``).

- ``none``: never cut on balance (the billing mode's own funds checks still apply);
- ``inbound``: its calls to us are refused ``cut_off`` while inbound ≤ 0;
- ``outbound``: routing skips its vendor side while outbound ≤ 0;
- ``mutual``: its calls to us are refused ``cut_off`` while net ≤ 0 (routing to it
  goes on: the seed cuts only what it originates to us).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from voxbill.domain.accounts import Account, AccountKind, CutoffMode
from voxbill.domain.errors import InvalidInput
from voxbill.domain.money import ZERO

#: Account kinds that may be the inbound side of a partner.
INBOUND_SIDES = frozenset({AccountKind.CUSTOMER, AccountKind.RESELLER})

#: Modes that cut the traffic a partner sends us (they read its inbound balance).
INBOUND_CUTS = frozenset({CutoffMode.INBOUND, CutoffMode.MUTUAL})


def check_link(vendor: Account, partner: Account, operator_id: int) -> None:
    """``vendor`` (of operator ``operator_id``: a draft has no path yet) may name
    ``partner`` as its inbound side (``invalid_partner``, ``partner_currency_mismatch``,
    ``cutoff_on_vendor_side`` otherwise)."""
    if vendor.kind is not AccountKind.VENDOR:
        raise InvalidInput(
            f"only a vendor account names a partner; account {vendor.id} is a {vendor.kind}",
            code="invalid_partner",
        )
    if partner.kind not in INBOUND_SIDES:
        raise InvalidInput(
            f"a vendor's partner is a customer or reseller account; "
            f"account {partner.id} is a {partner.kind}",
            code="invalid_partner",
        )
    if partner.operator_id != operator_id:
        raise InvalidInput(
            f"account {partner.id} belongs to another operator", code="invalid_partner"
        )
    if partner.currency != vendor.currency:
        raise InvalidInput(
            f"a partner's two balances are compared: account {partner.id} is in "
            f"{partner.currency}, vendor {vendor.id} in {vendor.currency}",
            code="partner_currency_mismatch",
        )
    if vendor.balance.cutoff_mode is not CutoffMode.NONE:
        raise InvalidInput(
            f"vendor {vendor.id} is linked to partner {partner.id}, whose cutoff_mode "
            "governs both directions: the vendor keeps cutoff_mode none",
            code="cutoff_on_vendor_side",
        )


def vendor_mode(vendor: Account, partner_mode: CutoffMode | None) -> CutoffMode:
    """The mode that governs a vendor: its partner's when linked, else its own."""
    if vendor.partner_id is not None and partner_mode is not None:
        return partner_mode
    return vendor.balance.cutoff_mode


def outbound_cut(mode: CutoffMode, outbound: Decimal) -> bool:
    """Whether routing stops sending calls to a vendor: ``outbound`` mode, balance ≤ 0."""
    return mode is CutoffMode.OUTBOUND and outbound <= ZERO


def net_position(inbound: Decimal, outbound: Decimal) -> Decimal:
    return inbound - outbound


def inbound_cut(mode: CutoffMode, inbound: Decimal, outbound: Decimal) -> bool:
    """Whether a partner's calls to us are refused ``cut_off`` now."""
    if mode is CutoffMode.INBOUND:
        return inbound <= ZERO
    if mode is CutoffMode.MUTUAL:
        return net_position(inbound, outbound) <= ZERO
    return False


def cut_off(
    chain: Sequence[Account],
    inbound_of: Callable[[Account], Decimal],
    outbound_of: Callable[[Account], Decimal],
) -> str | None:
    """Why a call of ``chain[0]`` is refused ``cut_off`` (some account of its chain is a
    partner cut off), else None. ``outbound_of`` is asked only for mutual partners."""
    for account in chain:
        mode = account.balance.cutoff_mode
        if mode not in INBOUND_CUTS:
            continue
        inbound = inbound_of(account)
        outbound = outbound_of(account) if mode is CutoffMode.MUTUAL else ZERO
        if inbound_cut(mode, inbound, outbound):
            if mode is CutoffMode.MUTUAL:
                net = net_position(inbound, outbound)
                return f"account {account.id} is cut off (mutual: net position {net} ≤ 0)"
            return f"account {account.id} is cut off (inbound: balance {inbound} ≤ 0)"
    return None


@dataclass(frozen=True, slots=True)
class Position:
    """A partner's running position with us, as ``GET /accounts/{id}/partner`` shows it."""

    account_id: int
    vendor_id: int | None
    cutoff_mode: CutoffMode
    currency: str
    inbound_balance: Decimal
    outbound_balance: Decimal
    net_position: Decimal
    #: its calls to us are refused ``cut_off`` now
    inbound_cut_off: bool
    #: routing skips its vendor side now
    outbound_cut_off: bool


def position(
    account: Account, vendor_id: int | None, inbound: Decimal, outbound: Decimal
) -> Position:
    mode = account.balance.cutoff_mode
    return Position(
        account_id=account.id,
        vendor_id=vendor_id,
        cutoff_mode=mode,
        currency=account.currency,
        inbound_balance=inbound,
        outbound_balance=outbound,
        net_position=net_position(inbound, outbound),
        inbound_cut_off=inbound_cut(mode, inbound, outbound),
        outbound_cut_off=vendor_id is not None and outbound_cut(mode, outbound),
    )
