"""What the portal's page modules share: form field types, the rule probe that decides
which write controls are rendered, form value parsing and the money forms' idempotency."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse

from voxbill.api.idempotency import scope
from voxbill.api.schemas import storable
from voxbill.domain.access import PortalSession
from voxbill.domain.errors import Forbidden, InvalidInput
from voxbill.portal.web import PREFIX, PortalRoute, actor_of

#: rows per page of every list (lists page by id, never by offset)
PAGE = 50
#: a list's page cursor (``after_id`` and its kin): the last id of the page before
AfterId = Annotated[int | None, Query(ge=0, le=2**62)]
FormText = Annotated[str, Form()]
OptionalText = Annotated[str | None, Form()]


class _Row(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=_Row)


def paged(found: Sequence[R]) -> tuple[list[R], int | None]:
    """A list read with ``limit=PAGE + 1``: its first ``PAGE`` rows and the ``after_id``
    of the next page (None on the last page, so no "next" link is rendered)."""
    rows = list(found[:PAGE])
    return rows, rows[-1].id if len(found) > PAGE else None


def listed(found: Sequence[_Row], wanted: int) -> bool:
    """Whether a one-row read from ``after_id=wanted - 1`` found row ``wanted`` (one
    indexed row instead of the whole list, to check a row is the account's)."""
    return bool(found) and found[0].id == wanted


def page_router() -> APIRouter:
    """A router for one page module: refusals as HTML pages, nothing in the schema."""
    return APIRouter(route_class=PortalRoute, include_in_schema=False)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def can(check: Callable[[], object]) -> bool:
    """Whether a rule would let a write pass (decides which controls are rendered)."""
    try:
        check()
    except Forbidden:
        return False
    return True


def amount_of(text: str, field: str = "amount") -> Decimal:
    """A money amount typed into a form: exact, and what storage holds (else 422)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(f"{field}: a decimal number is required") from None
    if not value.is_finite():
        raise InvalidInput(f"{field}: a decimal number is required")
    try:
        return storable(value)  # the API's rule: what storage holds, else 422, never a 500
    except ValueError as exc:
        raise InvalidInput(f"{field}: {exc}") from None


def when_of(text: str | None, field: str) -> datetime | None:
    """A date or ISO 8601 time typed into a form (UTC when it names no zone)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field}: a date (YYYY-MM-DD) or ISO 8601 time is required") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def replay(visitor: PortalSession, key: str | None, *parts: object) -> dict[str, Any]:
    """The idempotency arguments of a money form (its hidden key: a form posted twice
    moves money once; the same key with other values is refused)."""
    principal = visitor.principal
    text = "\x1f".join(str(p) for p in parts)
    return {
        "actor": actor_of(visitor),
        "idempotency_scope": scope(principal),
        "idempotency_key": key or None,
        "fingerprint": hashlib.sha256(text.encode()).hexdigest() if key else None,
    }


def back_to(account_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/accounts/{account_id}?done={done}", status_code=303)
