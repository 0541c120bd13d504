"""Idempotency keys for money-moving requests.

The ledger stores the key with the transaction it made, in the same database
transaction; here we only scope the key to the caller's account and fingerprint the
request so that the same key with a different request is recognised (409).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Header, Request
from pydantic import BaseModel

from voxbill.domain.access import Principal
from voxbill.domain.errors import InvalidInput
from voxbill.domain.money import canonical

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a client-chosen unique key: a retry with the same key and body "
        "replays the first response; with another body it is refused (409)",
    ),
]


def _normalized(value: Any) -> Any:
    """The validated value with money in one spelling: "10.0" and "10.00" are one request."""
    if isinstance(value, Decimal):
        return canonical(value.normalize())
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(item) for item in value]
    return value


def fingerprint(request: Request, body: BaseModel) -> str:
    """A digest of the validated body (not its raw text), so equal requests match."""
    canonical_body = json.dumps(
        _normalized(body.model_dump(mode="python")),
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    text = f"{request.method} {request.url.path} {canonical_body}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checked(key: str | None) -> str | None:
    if key is None:
        return None
    if not key or len(key) > 200 or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1 to 200 printable characters")
    return key


def scope(principal: Principal) -> str:
    """Whose keys these are: the calling account, so that every API key of one account
    (a reseller's two switches, a rotated key) shares them."""
    return f"account:{principal.account_id}"


def replay_args(
    request: Request, principal: Principal, key: str | None, body: BaseModel
) -> dict[str, Any]:
    """The keyword arguments every ledger operation takes for idempotency."""
    return {
        "actor": principal.actor,
        "idempotency_scope": scope(principal),
        "idempotency_key": checked(key),
        "fingerprint": fingerprint(request, body) if key is not None else None,
    }
