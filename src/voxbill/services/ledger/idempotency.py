"""Idempotency keys for money movements: the first response is stored and replayed.

The key row is written in the same transaction as the movement, under a unique
(scope, key) constraint: a concurrent duplicate fails on it, rolls back whole and, on
retry, finds the stored response — so a key can never post twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from voxbill.domain.errors import IdempotencyConflict
from voxbill.domain.ledger import LedgerTransaction
from voxbill.services.ledger.journal import Journal


def request_fingerprint(operation: str, request: dict[str, Any]) -> str:
    """A stable digest of what was asked, for callers that do not send their own."""
    text = json.dumps({"operation": operation, **request}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def stored_response(
    journal: Journal, scope: str, key: str, fingerprint: str
) -> LedgerTransaction | None:
    """The first response to ``key``, marked replayed; 409 if it answered another request."""
    stored = journal.tx.ledger.find_idempotency(scope, key)
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise IdempotencyConflict(f"idempotency key {key!r} was used for a different request")
    return replace(stored.result, replayed=True)


def remember(
    journal: Journal,
    scope: str,
    key: str,
    fingerprint: str,
    operation: str,
    result: LedgerTransaction,
) -> None:
    journal.tx.ledger.save_idempotency(
        scope=scope,
        key=key,
        fingerprint=fingerprint,
        operation=operation,
        result=result,
        now=journal.now,
    )
