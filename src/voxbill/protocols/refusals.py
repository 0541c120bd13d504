"""One table from voxbill reason codes to SIP status, RADIUS reply and Diameter result.

Every door answers a refusal the same way for the same reason, so an operator reading a
switch log sees the reason voxbill gave (``X-Voxbill-Reason``, ``Reply-Message``,
``Error-Message``) with the status the switch acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Refusal:
    """How each protocol says "no" for one reason."""

    reason: str
    sip_status: int
    sip_phrase: str
    diameter_result: int  # RFC 6733 / RFC 4006 Result-Code
    h323_return_code: int  # Cisco VSA h323-return-code in an Access-Reject
    text: str  # Reply-Message / Error-Message


# Diameter result codes (RFC 6733 §7.1, RFC 4006 §9)
DIAMETER_SUCCESS: Final = 2001
DIAMETER_TOO_BUSY: Final = 3004
DIAMETER_END_USER_SERVICE_DENIED: Final = 4010
DIAMETER_CREDIT_LIMIT_REACHED: Final = 4012
DIAMETER_UNKNOWN_SESSION_ID: Final = 5002
DIAMETER_UNABLE_TO_COMPLY: Final = 5012
DIAMETER_USER_UNKNOWN: Final = 5030
DIAMETER_RATING_FAILED: Final = 5031

_TABLE: Final[tuple[Refusal, ...]] = (
    Refusal("unknown_caller", 403, "Forbidden", DIAMETER_USER_UNKNOWN, 1, "unknown caller"),
    Refusal("invalid_pin", 403, "Forbidden", DIAMETER_USER_UNKNOWN, 2, "wrong card PIN"),
    # h323-return-code 10: "number of retries exceeded" (Cisco IVR return codes)
    Refusal("card_locked", 403, "Forbidden", DIAMETER_END_USER_SERVICE_DENIED, 10, "card locked"),
    Refusal(
        "too_many_pin_failures",
        403,
        "Forbidden",
        DIAMETER_END_USER_SERVICE_DENIED,
        10,
        "too many wrong PINs",
    ),
    Refusal("pin_busy", 503, "Service Unavailable", DIAMETER_TOO_BUSY, 8, "busy, retry"),
    Refusal("blocked", 403, "Forbidden", DIAMETER_END_USER_SERVICE_DENIED, 7, "account blocked"),
    Refusal("cut_off", 403, "Forbidden", DIAMETER_END_USER_SERVICE_DENIED, 7, "partner cut off"),
    Refusal(
        "insufficient_funds",
        402,
        "Payment Required",
        DIAMETER_CREDIT_LIMIT_REACHED,
        4,
        "insufficient funds",
    ),
    Refusal("unknown_sender", 403, "Forbidden", DIAMETER_USER_UNKNOWN, 1, "unknown sender"),
    Refusal(
        "messaging_disabled", 403, "Forbidden", DIAMETER_END_USER_SERVICE_DENIED, 7, "no messaging"
    ),
    Refusal("no_rate", 404, "Not Found", DIAMETER_RATING_FAILED, 9, "no rate for destination"),
    Refusal("no_route", 404, "Not Found", DIAMETER_RATING_FAILED, 9, "no route to destination"),
    Refusal(
        "invalid_number", 484, "Address Incomplete", DIAMETER_RATING_FAILED, 11, "invalid number"
    ),
    Refusal(
        "concurrency_limit",
        486,
        "Busy Here",
        DIAMETER_END_USER_SERVICE_DENIED,
        3,
        "too many concurrent calls",
    ),
    Refusal("rate_limited", 503, "Service Unavailable", DIAMETER_TOO_BUSY, 8, "rate limited"),
    Refusal("database_busy", 503, "Service Unavailable", DIAMETER_TOO_BUSY, 8, "busy, retry"),
    Refusal(
        "unknown_session",
        481,
        "Call/Transaction Does Not Exist",
        DIAMETER_UNKNOWN_SESSION_ID,
        11,
        "unknown session",
    ),
    Refusal(
        "session_settled",
        481,
        "Call/Transaction Does Not Exist",
        DIAMETER_UNKNOWN_SESSION_ID,
        11,
        "session already settled",
    ),
    # a start whose session id names another call: SIP 481 because the id does not name
    # a dialog this request belongs to (SIP has no 409); the switch must pick a new id
    Refusal(
        "session_conflict",
        481,
        "Call/Transaction Does Not Exist",
        DIAMETER_UNABLE_TO_COMPLY,
        11,
        "session id belongs to another call",
    ),
)
_BY_REASON: Final = {refusal.reason: refusal for refusal in _TABLE}

INTERNAL: Final = Refusal(
    "internal_error", 503, "Service Unavailable", DIAMETER_UNABLE_TO_COMPLY, 8, "internal error"
)


def refusal_for(reason: str | None) -> Refusal:
    """The refusal for a reason code; unknown codes are internal failures (503 / 5012)."""
    if reason is None:
        return INTERNAL
    return _BY_REASON.get(reason, INTERNAL)


def known_reasons() -> frozenset[str]:
    return frozenset(_BY_REASON)
