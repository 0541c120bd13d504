"""How every door answers every error: one table from a code to each door's answer.

A :class:`~voxbill.domain.errors.VoxbillError` carries a stable ``code``; this table
says what that code becomes at each door: the HTTP status (problem+json), the CLI exit
status, and, for the reasons a switch can be refused, the SIP status, the RADIUS
Access-Reject (``h323-return-code`` and ``Reply-Message``) and the Diameter
Result-Code. A switch log then shows the reason voxbill gave (``X-Voxbill-Reason``,
``Reply-Message``, ``Error-Message``) with the status the switch acts on.

An error whose code is not in the table (a ``code=`` given where it is raised) is
answered as the nearest class above it that is; a reason with no switch answer is an
internal failure on the switch doors (SIP 503, Diameter 5012). Imports only the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from voxbill.domain.errors import VoxbillError

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_BAD_INPUT: Final = 2

# Diameter result codes (RFC 6733 §7.1, RFC 4006 §9)
DIAMETER_SUCCESS: Final = 2001
DIAMETER_TOO_BUSY: Final = 3004
DIAMETER_END_USER_SERVICE_DENIED: Final = 4010
DIAMETER_CREDIT_LIMIT_REACHED: Final = 4012
DIAMETER_UNKNOWN_SESSION_ID: Final = 5002
DIAMETER_UNABLE_TO_COMPLY: Final = 5012
DIAMETER_USER_UNKNOWN: Final = 5030
DIAMETER_RATING_FAILED: Final = 5031


@dataclass(frozen=True, slots=True)
class Refusal:
    """How the switch doors say "no" for one reason."""

    reason: str
    sip_status: int
    sip_phrase: str
    diameter_result: int  # RFC 6733 / RFC 4006 Result-Code
    h323_return_code: int  # Cisco VSA h323-return-code in an Access-Reject
    text: str  # Reply-Message / Error-Message


@dataclass(frozen=True, slots=True)
class Outcome:
    """One code's answer at every door; ``refusal`` only for reasons a switch is given."""

    code: str
    http_status: int
    exit_code: int = EXIT_REFUSED
    refusal: Refusal | None = None


def _bad_input(code: str) -> Outcome:
    return Outcome(code, 422, EXIT_BAD_INPUT)


def _switch(
    code: str,
    http_status: int,
    sip: tuple[int, str],
    diameter_result: int,
    h323_return_code: int,
    text: str,
    exit_code: int = EXIT_REFUSED,
) -> Outcome:
    refusal = Refusal(code, sip[0], sip[1], diameter_result, h323_return_code, text)
    return Outcome(code, http_status, exit_code, refusal)


_FORBIDDEN: Final = (403, "Forbidden")
_NOT_FOUND: Final = (404, "Not Found")
_UNAVAILABLE: Final = (503, "Service Unavailable")
_NO_DIALOG: Final = (481, "Call/Transaction Does Not Exist")

TABLE: Final[tuple[Outcome, ...]] = (
    Outcome("error", 400),
    # bad input: nothing was changed
    _bad_input("invalid_input"),
    _bad_input("invalid_money"),
    _bad_input("amount_out_of_range"),
    _switch(
        "invalid_number",
        422,
        (484, "Address Incomplete"),
        DIAMETER_RATING_FAILED,
        11,
        "invalid number",
        EXIT_BAD_INPUT,
    ),
    _bad_input("invalid_time_profile"),
    _bad_input("invalid_rate_deck"),
    _bad_input("network_not_allowed"),
    _bad_input("webhook_target_forbidden"),
    _bad_input("invalid_template"),
    _bad_input("invalid_vendor"),
    # two-way partners (docs/charging.md, "Partners in both directions")
    _bad_input("invalid_partner"),
    _bad_input("partner_currency_mismatch"),
    _bad_input("cutoff_on_vendor_side"),
    _bad_input("invalid_cutoff_mode"),
    _bad_input("invalid_currency"),
    _bad_input("same_currency"),
    _bad_input("invalid_fx_rate"),
    # online top-ups (docs/payments.md): which limit refused the amount
    _bad_input("topup_below_min"),
    _bad_input("topup_above_max"),
    Outcome("topup_limit", 403),
    Outcome("topup_daily_max", 403),
    Outcome("topup_monthly_max", 403),
    Outcome("payment_mismatch", 422),
    # a refund or dispute ahead of its payment's credit: the provider retries it later
    Outcome("payment_not_yet_credited", 409),
    # a provider's webhook that does not verify: nothing applied (the provider retries)
    Outcome("invalid_signature", 400),
    Outcome("payments_not_configured", 403),  # not set up here: a refusal, not a failure
    Outcome("payment_provider_error", 502),
    # not found (or outside the asker's subtree)
    Outcome("not_found", 404),
    _switch("no_rate", 404, _NOT_FOUND, DIAMETER_RATING_FAILED, 9, "no rate for destination"),
    _switch("no_route", 404, _NOT_FOUND, DIAMETER_RATING_FAILED, 9, "no route to destination"),
    Outcome("unknown_rate_plan", 404, EXIT_BAD_INPUT),
    Outcome("no_sip_target", 404),
    Outcome("unknown_hold", 404),
    Outcome("no_fx_rate", 404),
    _switch("unknown_session", 404, _NO_DIALOG, DIAMETER_UNKNOWN_SESSION_ID, 11, "unknown session"),
    # conflicts
    Outcome("conflict", 409),
    Outcome("calls_in_progress", 409),
    Outcome("partner_taken", 409),
    Outcome("idempotency_conflict", 409),
    Outcome("hold_conflict", 409),
    Outcome("fx_rate_in_use", 409),
    Outcome("plan_name_taken", 409),
    Outcome("plan_in_use", 409),
    Outcome("batch_in_use", 409),
    _switch(
        "session_settled",
        409,
        _NO_DIALOG,
        DIAMETER_UNKNOWN_SESSION_ID,
        11,
        "session already settled",
    ),
    # a start whose session id names another call: SIP 481 because the id does not name
    # a dialog this request belongs to (SIP has no 409); the switch must pick a new id
    _switch(
        "session_conflict",
        409,
        _NO_DIALOG,
        DIAMETER_UNABLE_TO_COMPLY,
        11,
        "session id belongs to another call",
    ),
    # business refusals
    Outcome("refused", 403),
    _switch("unknown_caller", 403, _FORBIDDEN, DIAMETER_USER_UNKNOWN, 1, "unknown caller"),
    _switch("unknown_sender", 403, _FORBIDDEN, DIAMETER_USER_UNKNOWN, 1, "unknown sender"),
    Outcome("pin_refused", 403),
    _switch("invalid_pin", 403, _FORBIDDEN, DIAMETER_USER_UNKNOWN, 2, "wrong card PIN"),
    # h323-return-code 10: "number of retries exceeded" (Cisco IVR return codes)
    _switch("card_locked", 403, _FORBIDDEN, DIAMETER_END_USER_SERVICE_DENIED, 10, "card locked"),
    # Cisco IVR h323-return-codes: 7 "user denied", 5 "card expired"
    _switch("card_inactive", 403, _FORBIDDEN, DIAMETER_END_USER_SERVICE_DENIED, 7, "card inactive"),
    _switch("card_expired", 403, _FORBIDDEN, DIAMETER_END_USER_SERVICE_DENIED, 5, "card expired"),
    _switch(
        "too_many_pin_failures",
        429,
        _FORBIDDEN,
        DIAMETER_END_USER_SERVICE_DENIED,
        10,
        "too many wrong PINs",
    ),
    _switch("blocked", 403, _FORBIDDEN, DIAMETER_END_USER_SERVICE_DENIED, 7, "account blocked"),
    _switch("cut_off", 403, _FORBIDDEN, DIAMETER_END_USER_SERVICE_DENIED, 7, "partner cut off"),
    _switch(
        "messaging_disabled", 403, _FORBIDDEN, DIAMETER_END_USER_SERVICE_DENIED, 7, "no messaging"
    ),
    _switch(
        "insufficient_funds",
        402,
        (402, "Payment Required"),
        DIAMETER_CREDIT_LIMIT_REACHED,
        4,
        "insufficient funds",
    ),
    # fraud guard (docs/charging.md): h323-return-code 6 "credit limit", 9 "called
    # number blocked" (Cisco IVR return codes); the caller may have money: no 402
    _switch(
        "spend_cap",
        403,
        _FORBIDDEN,
        DIAMETER_CREDIT_LIMIT_REACHED,
        6,
        "spend cap reached",
    ),
    _switch(
        "high_risk_destination",
        403,
        _FORBIDDEN,
        DIAMETER_END_USER_SERVICE_DENIED,
        9,
        "high-risk destination",
    ),
    _switch(
        "concurrency_limit",
        429,
        (486, "Busy Here"),
        DIAMETER_END_USER_SERVICE_DENIED,
        3,
        "too many concurrent calls",
    ),
    _switch("rate_limited", 429, _UNAVAILABLE, DIAMETER_TOO_BUSY, 8, "rate limited"),
    # nothing decided: retry
    _switch("pin_busy", 503, _UNAVAILABLE, DIAMETER_TOO_BUSY, 8, "busy, retry"),
    _switch("database_busy", 503, _UNAVAILABLE, DIAMETER_TOO_BUSY, 8, "busy, retry"),
    Outcome("rate_limiter_unavailable", 503),
    # who is asking
    Outcome("unauthorized", 401),
    Outcome("too_many_auth_failures", 429),
    Outcome("forbidden", 403),
    Outcome("account_not_active", 403),
    # the HTTP request itself
    Outcome("payload_too_large", 413),
    Outcome("unsupported_media_type", 415),
    # the ledger's invariants
    Outcome("accounting_error", 422),
    Outcome("zero_amount", 422),
    Outcome("unbalanced_transaction", 422),
    Outcome("currency_mismatch", 422),
    # running voxbill
    Outcome("unknown_schema", 400),
    Outcome("port_unavailable", 503),
)

_BY_CODE: Final = {outcome.code: outcome for outcome in TABLE}
_REFUSALS: Final = {o.code: o.refusal for o in TABLE if o.refusal is not None}

#: how the switch doors answer a failure that is no refusal (a bug, a lost database)
INTERNAL: Final = Refusal(
    "internal_error", 503, "Service Unavailable", DIAMETER_UNABLE_TO_COMPLY, 8, "internal error"
)


def known_codes() -> frozenset[str]:
    return frozenset(_BY_CODE)


def outcome_for(error: VoxbillError) -> Outcome:
    """The error's own code's row, else that of the nearest class above it with one."""
    found = _BY_CODE.get(error.code)
    if found is not None:
        return found
    for cls in type(error).__mro__:
        found = _BY_CODE.get(getattr(cls, "code", ""))
        if found is not None:
            return found
    return _BY_CODE["error"]


def http_status_for(error: VoxbillError) -> int:
    return outcome_for(error).http_status


def exit_code_for(error: VoxbillError) -> int:
    return outcome_for(error).exit_code


def refusal_for(reason: str | None) -> Refusal:
    """The switch doors' refusal for a reason code; any other is an internal failure."""
    if reason is None:
        return INTERNAL
    return _REFUSALS.get(reason, INTERNAL)


def known_reasons() -> frozenset[str]:
    """The reasons a switch can be refused with (each has a SIP, RADIUS and Diameter
    answer)."""
    return frozenset(_REFUSALS)
