"""Portal users created by a parent: ``POST /accounts/{id}/users``, listed a page at a
time by ``GET /accounts/{id}/users`` (docs/portal.md).

The role must be one the key may issue keys for (``ISSUABLE_ROLES``) and fit the
account's kind (``ROLE_KINDS``), as for API keys; a generated password is answered once.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.problems import responses
from voxbill.api.routers.accounts import AccountPath, AfterId, Limit
from voxbill.domain.access import PortalUser, Role

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


class PortalUserRead(BaseModel):
    id: int
    account_id: int
    email: str
    role: Role
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: PortalUser) -> PortalUserRead:
        return cls(
            id=user.id,
            account_id=user.account_id,
            email=user.email,
            role=user.role,
            disabled=user.disabled,
            created_at=user.created_at,
        )


class PortalUserPage(BaseModel):
    items: list[PortalUserRead]
    next_after_id: int | None = Field(description="the after_id of the next page; null: none")


@router.get(
    "/accounts/{account_id}/users",
    response_model=PortalUserPage,
    responses=responses(401, 404, 422),
)
def list_portal_users(
    account_id: AccountPath,
    principal: CurrentPrincipal,
    container: ContainerDep,
    limit: Limit = 50,
    after_id: AfterId = None,
) -> PortalUserPage:
    """The account's portal users by id, a page at a time (never a password hash)."""
    found = container.auth.portal_users(principal, account_id, after_id=after_id, limit=limit)
    return PortalUserPage(
        items=[PortalUserRead.of(u) for u in found],
        next_after_id=found[-1].id if len(found) == limit else None,
    )
