"""Idempotency keys for money-moving requests.

The ledger stores the key with the transaction it made, in the same database
transaction; here we only scope the key to the caller's account and fingerprint the
request so that the same key with a different request is recognised (409).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Header, Request
from pydantic import BaseModel

from voxbill.domain.access import Principal
from voxbill.domain.errors import InvalidInput

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a client-chosen unique key: a retry with the same key and body "
        "replays the first response; with another body it is refused (409)",
    ),
]


def fingerprint(request: Request, body: BaseModel) -> str:
    canonical_body = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    text = f"{request.method} {request.url.path} {canonical_body}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scoped(principal: Principal, key: str | None) -> str | None:
    """The key as the ledger stores it: unique per calling account."""
    if key is None:
        return None
    if not key or len(key) > 200 or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1 to 200 printable characters")
    return f"{principal.account_id}:{key}"


def replay_args(
    request: Request, principal: Principal, key: str | None, body: BaseModel
) -> dict[str, Any]:
    """The keyword arguments every ledger operation takes for idempotency."""
    return {
        "actor": principal.actor,
        "idempotency_key": scoped(principal, key),
        "fingerprint": fingerprint(request, body) if key is not None else None,
    }
