"""``Authorization: Bearer <key>`` → the :class:`Principal` behind a request.

The key is checked by :meth:`AuthService.authenticate`, which answers from its
per-process cache (``hot_cache_seconds``) or reads the database. A dependency runs
before the body is validated (a bad key is a 401 whatever the body), and it is
``async`` so that a request does not pay a thread hop for a dictionary lookup: the
key is checked on the event loop when it was read from the database a moment ago (so
the service's cache surely has it), else in the threadpool, where a query may block.
"""

from __future__ import annotations

import time
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from voxbill.api.deps import container_of
from voxbill.domain.access import Principal


class _Loaded:
    """When each key was last checked in the threadpool (a read of the database, or of
    a cache entry about as young): until half the cache's lifetime later its entry is
    surely still cached, and the check may run on the event loop.

    A hint, never an answer: :meth:`AuthService.authenticate` still decides every
    request, so a revocation or a closed account takes effect exactly as before. A
    wrong hint (an entry dropped early) costs one query on the event loop. Keys are
    the tokens' ``hash()``: no secret is kept here; only valid keys are remembered.
    """

    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._until: dict[int, float] = {}

    def fresh(self, token: str) -> bool:
        until = self._until.get(hash(token))
        return until is not None and time.monotonic() < until

    def loaded(self, token: str, ttl: float) -> None:
        if ttl <= 0:  # no cache: every check reads the database
            return
        if len(self._until) >= self.MAX_KEYS:
            self._until.clear()
        self._until[hash(token)] = time.monotonic() + ttl / 2


_loaded = _Loaded()


class _ApiKey(HTTPBearer):
    """The Bearer scheme (the same OpenAPI security scheme, ``HTTPBearer``) that also
    checks the key: one dependency per request instead of two."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        credentials = await super().__call__(request)
        token = credentials.credentials if credentials is not None else None
        container = container_of(request)
        if token is None or _loaded.fresh(token):  # no key: refused without a query
            return container.auth.authenticate(token)
        principal = await to_thread.run_sync(container.auth.authenticate, token)
        _loaded.loaded(token, container.settings.hot_cache_seconds)
        return principal


current_principal = _ApiKey(
    scheme_name="HTTPBearer", auto_error=False, description="an API key: vbk_…"
)

CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
