"""Who is calling: the caller's account from what the switch sends (ANI, SIP user, IP,
calling card and PIN), and the caller as a session row records it.

The door says whose question it is: ``operator_id`` (every lookup stays within that
operator), ``within`` (an API key's subtree: callers outside it are unknown) and
``asker`` (whose PIN guesses are counted). The identification rule itself is in
:mod:`voxbill.services.access.identifiers`.
"""

from __future__ import annotations

from collections.abc import Callable

from voxbill.domain.charging import Reason
from voxbill.domain.errors import PinRefused
from voxbill.services.access.identifiers import IdentifierService
from voxbill.services.charging.results import CallerId, ChargingRefused, refusal


def identify(identifiers: IdentifierService, caller: CallerId) -> int | None:
    """The caller's account id, or None (an unknown caller); a known card whose PIN is
    not accepted raises :class:`~voxbill.domain.errors.PinRefused`, and one whose PIN
    could not be checked now :class:`~voxbill.domain.errors.PinBusy` (retry)."""
    if caller.account_id is not None:
        return caller.account_id
    if not any((caller.ani, caller.sip_user, caller.ip, caller.card)):
        return None
    found = identifiers.identify(
        operator_id=caller.operator_id,
        ani=caller.ani,
        sip_user=caller.sip_user,
        ip=caller.ip,
        card=caller.card,
        pin=caller.pin,
        within=caller.within,
        asker=caller.asker,
        pin_sealed=caller.pin_sealed,
    )
    return None if found is None else found.account_id


def caller_account(identify: Callable[[CallerId], int | None], caller: CallerId) -> int:
    """The caller's account id; refuses an unknown caller or a card's PIN not accepted
    (wrong, locked, over a budget: the reason says which). :class:`PinBusy` is no
    refusal and passes through: nothing was decided, the door answers "retry"."""
    try:
        account_id = identify(caller)
    except PinRefused as exc:
        raise ChargingRefused(refusal(Reason(exc.code)), f"call refused: {exc}") from exc
    if account_id is None:
        raise ChargingRefused(refusal(Reason.UNKNOWN_CALLER))
    return account_id


def caller_text(caller: CallerId) -> str:
    """The caller as the session row records it (a card only by its last four digits)."""
    if caller.card:
        return f"card:…{caller.card.strip()[-4:]}"
    return (caller.ani or caller.sip_user or caller.ip or "")[:200]
