"""``Authorization: Bearer <key>`` → the :class:`Principal` behind a request.

The key is checked once per request, by :mod:`voxbill.api.guard`, before the body is
read (a bad key is a 401 whatever the body): this dependency hands the routes the
principal the guard left in the scope. It keeps FastAPI's ``HTTPBearer`` scheme for the
OpenAPI schema, and checks the key itself only for an application built without the
guard (in the threadpool: the check may read the database).
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from voxbill.api.deps import container_of
from voxbill.api.guard import PRINCIPAL
from voxbill.domain.access import Principal


class _ApiKey(HTTPBearer):
    """The Bearer scheme (the same OpenAPI security scheme, ``HTTPBearer``) that yields
    the checked principal: one dependency per request instead of two."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal: Principal | None = request.scope.get(PRINCIPAL)
        if principal is not None:
            return principal
        credentials = await super().__call__(request)
        token = credentials.credentials if credentials is not None else None
        return await to_thread.run_sync(container_of(request).auth.authenticate, token)


current_principal = _ApiKey(
    scheme_name="HTTPBearer", auto_error=False, description="an API key: vbk_…"
)

CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
