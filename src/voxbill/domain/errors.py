"""The one error tree of voxbill.

Every error a user or a switch can see derives from :class:`VoxbillError` and carries a
stable ``code``; one table (:mod:`voxbill.outcomes`) maps each code to the HTTP status,
SIP status, RADIUS reply, Diameter result and CLI exit code every door answers::

    VoxbillError
    ├── InvalidInput                 code=invalid_input      (bad request data)
    │   ├── InvalidMoney             code=invalid_money
    │   ├── InvalidNumber            code=invalid_number
    │   ├── InvalidTimeProfile       code=invalid_time_profile
    │   ├── RateDeckError            code=invalid_rate_deck  (carries line numbers)
    │   ├── NetworkNotAllowed        code=network_not_allowed (a catch-all IP identifier)
    │   └── UnstorableValue          code=invalid_input      (a value the database refuses)
    ├── NotFound                     code=not_found
    │   ├── NoRate                   code=no_rate
    │   └── UnknownRatePlan          code=unknown_rate_plan
    ├── Conflict                     code=conflict
    │   ├── IdempotencyConflict      code=idempotency_conflict (same key, other request)
    │   ├── HoldConflict             code=hold_conflict      (hold already settled otherwise)
    │   ├── SessionConflict          code=session_conflict   (session id taken by another call)
    │   ├── CallsInProgress          code=calls_in_progress  (balance owner change under calls)
    │   ├── PlanNameTaken            code=plan_name_taken    (rate plan names are operator-wide)
    │   ├── PlanInUse                code=plan_in_use        (a plan accounts are rated by)
    │   └── BatchInUse               code=batch_in_use       (a card batch used: not deleted)
    ├── Refused                      code=refused            (a business "no")
    │   ├── PinRefused               code=pin_refused        (a card's PIN not accepted)
    │   │   ├── InvalidPin           code=invalid_pin        (known card, wrong PIN)
    │   │   ├── CardLocked           code=card_locked        (too many wrong PINs: locked)
    │   │   ├── TooManyPinFailures   code=too_many_pin_failures (this asker, every card)
    │   │   ├── CardInactive         code=card_inactive      (right PIN, card not activated)
    │   │   └── CardExpired          code=card_expired       (right PIN, card past expiry)
    │   ├── InsufficientFunds        code=insufficient_funds
    │   └── RateLimited              code=rate_limited       (retry after ``retry_after`` s)
    ├── PinBusy                      code=pin_busy           (PIN checks full: retry)
    ├── Unauthorized                 code=unauthorized       (no or bad credentials)
    ├── Forbidden                    code=forbidden          (known caller, not allowed)
    │   └── AccountNotActive         code=account_not_active (key of a blocked/suspended chain)
    ├── UnknownSchema                code=unknown_schema     (database newer than this code)
    ├── DatabaseBusy                 code=database_busy      (a lock not had in time: retry)
    ├── PortUnavailable              code=port_unavailable   (a door cannot listen)
    └── AccountingError              code=accounting_error
        ├── ZeroAmountError          code=zero_amount
        ├── UnbalancedTransaction    code=unbalanced_transaction
        └── CurrencyMismatch         code=currency_mismatch
"""

from __future__ import annotations


class VoxbillError(Exception):
    """Root of every voxbill error; ``code`` is stable and machine-readable."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInput(VoxbillError):
    code = "invalid_input"


class InvalidMoney(InvalidInput):
    code = "invalid_money"


class InvalidNumber(InvalidInput):
    code = "invalid_number"


class InvalidTimeProfile(InvalidInput):
    code = "invalid_time_profile"


class RateDeckError(InvalidInput):
    """A rate deck could not be read; ``problems`` lists ``(line, message)`` pairs."""

    code = "invalid_rate_deck"

    def __init__(self, message: str, problems: list[tuple[int, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class NetworkNotAllowed(InvalidInput):
    """An IP identifier that would catch far more than one customer's trunk (``0.0.0.0/0``,
    a network wider than the allowed minimum, loopback, multicast, unspecified)."""

    code = "network_not_allowed"


UNSTORABLE = "a value in the request cannot be stored"


class UnstorableValue(InvalidInput):
    """A value every check let through that the database refuses (out of a column's
    range, say): bad input, answered as ``invalid_input``, never an internal error."""

    code = "invalid_input"

    def __init__(self, message: str = UNSTORABLE) -> None:
        super().__init__(message)


class NotFound(VoxbillError):
    code = "not_found"


class NoRate(NotFound):
    code = "no_rate"


class UnknownRatePlan(NotFound):
    code = "unknown_rate_plan"


class Conflict(VoxbillError):
    code = "conflict"


class PlanNameTaken(Conflict):
    """The operator already has a rate plan of that name (whose is not said)."""

    code = "plan_name_taken"


class PlanInUse(Conflict):
    """A rate plan some account is rated by: not deleted."""

    code = "plan_in_use"


class BatchInUse(Conflict):
    """A calling-card batch some card of which was activated, funded or used: not
    deleted (its cards carry ledger history)."""

    code = "batch_in_use"


class CallsInProgress(Conflict):
    """A change of who pays for an account's calls (sharing, unsharing, moving a shared
    balance) while it has calls in progress: refused until they end (HTTP 409)."""

    code = "calls_in_progress"


class IdempotencyConflict(Conflict):
    """An idempotency key was reused for a different request (HTTP 409)."""

    code = "idempotency_conflict"


class HoldConflict(Conflict):
    """A hold was already posted, voided or expired in another way than asked."""

    code = "hold_conflict"


class SessionConflict(Conflict):
    """A start reused a session id that belongs to another call (another caller, callee or
    mode): it is refused, never replayed, so one call never receives another's grant."""

    code = "session_conflict"


class Refused(VoxbillError):
    code = "refused"


class InsufficientFunds(Refused):
    """The operation would take a balance below its floor (block balance / credit limit)."""

    code = "insufficient_funds"


class PinRefused(Refused):
    """A calling card's PIN was not accepted; the subclass says why."""

    code = "pin_refused"


class InvalidPin(PinRefused):
    """A card number that exists, with a wrong or missing PIN."""

    code = "invalid_pin"


class CardLocked(PinRefused):
    """Too many wrong PINs for this card: refused, right PIN or not, until the lockout
    ends (no PIN is verified meanwhile)."""

    code = "card_locked"


class TooManyPinFailures(PinRefused):
    """The asker (an API key, a NAS) sent too many wrong PINs, over every card, within the
    window: refused without verifying the PIN."""

    code = "too_many_pin_failures"


class CardInactive(PinRefused):
    """A batch card (right PIN) that has not been activated, or was deactivated."""

    code = "card_inactive"


class CardExpired(PinRefused):
    """A batch card (right PIN) past its expiry."""

    code = "card_expired"


class PinBusy(VoxbillError):
    """No PIN verification could be admitted now (this node's verifications, the asker's
    share of them, or the card's remaining guesses are all in flight). Not a business
    refusal: nothing was decided, retry shortly (HTTP 503; a RADIUS accounting record is
    left unanswered, so the NAS retransmits it)."""

    code = "pin_busy"


class RateLimited(Refused):
    """Over a messages-per-second limit; nothing was charged. Retry after ``retry_after``."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthorized(VoxbillError):
    code = "unauthorized"


class SignInThrottled(Unauthorized):
    """Too many failed portal sign-ins for this email (or card) or from this address
    lately: refused without checking the password until the window ends (HTTP 429)."""

    code = "too_many_auth_failures"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Forbidden(VoxbillError):
    code = "forbidden"


class AccountNotActive(Forbidden):
    """A write with a key whose account, or an account above it, is blocked or
    suspended: such keys may only read (HTTP 403)."""

    code = "account_not_active"


class UnknownSchema(VoxbillError):
    """The database's schema revision is not one this code knows (a newer voxbill
    migrated it): nothing is read or written."""

    code = "unknown_schema"


class AccountingError(VoxbillError):
    code = "accounting_error"


class ZeroAmountError(AccountingError):
    code = "zero_amount"


class UnbalancedTransaction(AccountingError):
    code = "unbalanced_transaction"


class CurrencyMismatch(AccountingError):
    code = "currency_mismatch"


class DatabaseBusy(VoxbillError):
    """A lock could not be had in time; the request changed nothing and may be retried."""

    code = "database_busy"


class PortUnavailable(VoxbillError):
    """A protocol door could not listen on its address (the port is taken, say):
    ``voxbill serve`` stops with one line naming the door and the address."""

    code = "port_unavailable"
