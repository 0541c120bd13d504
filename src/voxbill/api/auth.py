"""``Authorization: Bearer <key>`` → the :class:`Principal` behind a request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voxbill.api.deps import ContainerDep
from voxbill.domain.access import Principal

_bearer = HTTPBearer(auto_error=False, description="an API key: vbk_…")


def current_principal(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = credentials.credentials if credentials is not None else None
    return container.auth.authenticate(token)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
