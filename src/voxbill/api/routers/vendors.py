"""Vendors (carriers): where least-cost routing sends their calls. Operator only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from voxbill.api.account_schemas import MAX_ID
from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.problems import responses
from voxbill.api.vendor_schemas import SipTargetRead, SipTargetWrite, VendorPage, VendorRead

router = APIRouter(tags=["vendors"])

VendorPath = Annotated[int, Path(ge=1, le=MAX_ID, description="vendor account id")]


@router.get("/vendors", response_model=VendorPage, responses=responses(401, 403, 422))
def list_vendors(
    principal: CurrentPrincipal,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> VendorPage:
    """The operator's vendor accounts the key sees, by id: the operator's staff (admin and
    support keys; others 403). SIP targets are shown to admin keys only."""
    found = container.routing.vendor_page(principal, after_id=after_id, limit=limit)
    items = [VendorRead.of(v) for v in found]
    return VendorPage(items=items, next_after_id=items[-1].id if len(found) == limit else None)


@router.put(
    "/vendors/{account_id}/sip-target",
    response_model=SipTargetRead,
    responses=responses(401, 403, 404, 422),
)
def set_sip_target(
    account_id: VendorPath,
    body: SipTargetWrite,
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> SipTargetRead:
    """Set (or replace) the SIP target of a vendor account."""
    target = container.routing.set_target(principal, account_id, body.target())
    return SipTargetRead.of(account_id, target)


@router.get(
    "/vendors/{account_id}/sip-target",
    response_model=SipTargetRead,
    responses=responses(401, 403, 404, 422),
)
def get_sip_target(
    account_id: VendorPath, principal: CurrentPrincipal, container: ContainerDep
) -> SipTargetRead:
    return SipTargetRead.of(account_id, container.routing.target(principal, account_id))
