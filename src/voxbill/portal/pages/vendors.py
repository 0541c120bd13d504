"""Vendors (carriers): the operator's vendor accounts with their balance (what we prepaid
them minus what they billed us), SIP target, buy plan and partner link; a vendor's page
with its routes (the buy plan's rows least-cost routing compares), its SIP target, its
partner link and cutoff mode, the partner's position, and a top-up (paying the carrier).

The rules are the API's: vendors are read by the operator's staff (admin, support:
view-only; other roles 403, another subtree's account 404), SIP targets by its admins
only (``PUT /vendors/{id}/sip-target``), the link as ``PATCH /accounts/{vendor}`` with
``partner_id`` and ``cutoff_mode``, the position as ``GET /accounts/{id}/partner``, the
top-up as the account page's."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.deps import container_of
from voxbill.domain import access
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import Account, CutoffMode
from voxbill.domain.errors import InvalidInput, NotFound
from voxbill.domain.routing import SipTarget, Transport
from voxbill.portal.pages import accounts as account_pages
from voxbill.portal.pages.common import PAGE, FormText, OptionalText, can, page_router
from voxbill.portal.web import PREFIX, Visitor, Writer, new_form_key, render

router = page_router()

#: what a vendor's cutoff mode may be set to here (the others are refused by the rule)
VENDOR_MODES = (CutoffMode.NONE, CutoffMode.OUTBOUND)


def _controls(principal: Principal, account: Account) -> dict[str, bool]:
    """The vendor page's write controls: those whose rule passes."""
    admin_write = principal.role is Role.ADMIN and can(lambda: access.require_write(principal))
    return {
        "target": admin_write,
        "link": admin_write
        and can(lambda: access.check_patch(principal, account, {"partner_id", "cutoff_mode"})),
        "top_up": can(lambda: access.check_top_up(principal, account)),
    }


def _back(vendor_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/vendors/{vendor_id}?done={done}", status_code=303)


@router.get("/vendors", response_class=HTMLResponse)
def vendors(
    request: Request,
    visitor: Visitor,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    container = container_of(request)
    found = container.routing.vendor_page(visitor.principal, after_id=after_id, limit=PAGE + 1)
    rows, more = found[:PAGE], len(found) > PAGE
    context = {
        "rows": rows,
        "next_after": rows[-1].account.id if more else None,
        "targets_shown": visitor.principal.role is Role.ADMIN,
    }
    return render(request, "vendors.html", context, visitor=visitor)


@router.get("/vendors/{vendor_id}", response_class=HTMLResponse)
def vendor_page(
    request: Request,
    vendor_id: int,
    visitor: Visitor,
    after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    container = container_of(request)
    principal = visitor.principal
    listing = container.routing.vendor(principal, vendor_id)
    account = listing.account
    position = container.accounts.partner_position(principal, account.id)
    partner = None
    if account.partner_id is not None:
        partner = container.accounts.visible(principal, account.partner_id)
    deck, message = None, None
    plan = account.plans.rate_plan
    if plan is not None:
        try:
            deck = container.rate_plans.show(principal, plan, after_id=after_id, limit=PAGE)
        except NotFound as exc:  # its plan was deleted meanwhile: said on the page
            message = exc.message
    context = {
        "account": account,
        "target": listing.target,
        "targets_shown": principal.role is Role.ADMIN,
        "balance": container.ledger.balance(account.id),
        "position": position,
        "partner": partner,
        "deck": deck,
        "deck_message": message,
        "next_after": deck.rates[-1].id if deck and len(deck.rates) == PAGE else None,
        "can": _controls(principal, account),
        "modes": VENDOR_MODES,
        "transports": list(Transport),
        "form_key": new_form_key(),
    }
    return render(request, "vendors_detail.html", context, visitor=visitor)


def _port(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput("port: a whole number between 1 and 65535") from None


@router.post("/vendors/{vendor_id}/sip-target")
def set_sip_target(
    request: Request,
    vendor_id: int,
    visitor: Writer,
    host: FormText,
    port: OptionalText = None,
    transport: OptionalText = None,
    tech_prefix: OptionalText = None,
) -> Response:
    """As ``PUT /vendors/{id}/sip-target``: set or replace where its calls are sent."""
    container = container_of(request)
    try:
        chosen = Transport(transport or Transport.UDP.value)
    except ValueError:
        raise InvalidInput("transport: udp or tcp") from None
    target = SipTarget(host.strip(), _port(port or "5060"), chosen, (tech_prefix or "").strip())
    container.routing.set_target(visitor.principal, vendor_id, target)
    return _back(vendor_id, "sip-target")


@router.post("/vendors/{vendor_id}/partner")
def set_partner(
    request: Request,
    vendor_id: int,
    visitor: Writer,
    partner_id: OptionalText = None,
    cutoff_mode: OptionalText = None,
) -> Response:
    """As ``PATCH /accounts/{vendor}`` with ``partner_id`` (empty: unlink) and the
    vendor's own ``cutoff_mode`` (a linked vendor keeps ``none``)."""
    container = container_of(request)
    principal = visitor.principal
    vendor = container.routing.vendor(principal, vendor_id).account
    changes: dict[str, object] = {}
    text = (partner_id or "").strip()
    if text:
        if not text.isdigit() or not 1 <= int(text) <= 2**62:
            raise InvalidInput("partner_id: an account id, or empty to unlink")
        changes["partner_id"] = int(text)
    else:
        changes["partner_id"] = None
    if cutoff_mode:
        try:
            changes["cutoff_mode"] = CutoffMode(cutoff_mode)
        except ValueError:
            raise InvalidInput("cutoff_mode: none, inbound, outbound or mutual") from None
    container.accounts.patch(principal, vendor.id, changes)
    return _back(vendor.id, "linked" if changes["partner_id"] else "saved")


@router.post("/vendors/{vendor_id}/top-up")
def top_up(
    request: Request,
    vendor_id: int,
    visitor: Writer,
    amount: FormText,
    note: OptionalText = None,
    form_key: OptionalText = None,
) -> Response:
    """Paying the carrier: the account page's top-up (same rules, same idempotency),
    back to the vendor's page."""
    container = container_of(request)
    vendor = container.routing.vendor(visitor.principal, vendor_id).account
    account_pages.top_up(request, vendor.id, visitor, amount, note, form_key)
    return _back(vendor.id, "top-up")
