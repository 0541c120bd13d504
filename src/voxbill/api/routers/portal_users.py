"""Portal users created by a parent: ``POST /accounts/{id}/users`` (docs/portal.md).

The role must be one the key may issue keys for (``ISSUABLE_ROLES``) and fit the
account's kind (``ROLE_KINDS``), as for API keys; a generated password is answered once.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.problems import responses
from voxbill.api.routers.accounts import AccountPath
from voxbill.domain.access import Role

router = APIRouter(tags=["accounts"])


class PortalUserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(min_length=3, max_length=254, strip_whitespace=True)]
    role: Role
    password: Annotated[str, StringConstraints(min_length=10, max_length=200)] | None = Field(
        default=None, description="omit to have one generated (answered once)"
    )


class PortalUserCreated(BaseModel):
    id: int
    account_id: int
    email: str
    role: Role
    password: str | None = Field(description="the generated password, shown once; else null")


@router.post(
    "/accounts/{account_id}/users",
    status_code=201,
    response_model=PortalUserCreated,
    responses=responses(401, 403, 404, 409, 422),
)
def create_portal_user(
    account_id: AccountPath,
    body: PortalUserCreate,
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> PortalUserCreated:
    """A portal user (email + password) on an account of the key's subtree."""
    secret = body.password or secrets.token_urlsafe(12)
    user_id = container.auth.create_portal_user(
        principal, account_id, body.email, secret, body.role
    )
    return PortalUserCreated(
        id=user_id,
        account_id=account_id,
        email=body.email.lower(),
        role=body.role,
        password=None if body.password else secret,
    )
