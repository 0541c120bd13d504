"""High-risk destinations of the key's operator (docs/charging.md, "Fraud guard"): read
by its staff and resellers, marked and unmarked by its admin keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.problems import responses
from voxbill.api.schemas import PlainText
from voxbill.domain.access import Principal
from voxbill.services.charging import high_risk
from voxbill.services.ports.fraud import HighRiskPrefix

router = APIRouter(tags=["fraud guard"])

Prefix = Annotated[PlainText, StringConstraints(min_length=1, max_length=16)]


class HighRiskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefixes: list[Prefix] = Field(
        min_length=1, max_length=10000, description="E.164 prefixes, e.g. 882 or +4470"
    )
    note: Annotated[PlainText, StringConstraints(max_length=200)] | None = None


class HighRiskRead(BaseModel):
    id: int
    prefix: str
    note: str | None
    created_at: datetime

    @classmethod
    def of(cls, p: HighRiskPrefix) -> HighRiskRead:
        return cls(id=p.id, prefix=p.prefix, note=p.note, created_at=p.created_at)


class HighRiskList(BaseModel):
    items: list[HighRiskRead]


async def _reader(principal: CurrentPrincipal) -> Principal:
    high_risk.check_read(principal)
    return principal


async def _changer(principal: CurrentPrincipal) -> Principal:
    """Checked before the body is read: a key that may not change the list is a 403."""
    high_risk.check_change(principal)
    return principal


Reader = Annotated[Principal, Depends(_reader)]
Changer = Annotated[Principal, Depends(_changer)]


@router.get("/high-risk-destinations", response_model=HighRiskList, responses=responses(401, 403))
def list_high_risk(principal: Reader, container: ContainerDep) -> HighRiskList:
    """The operator's high-risk prefixes: a call to a number they start is refused
    `high_risk_destination` unless its whole chain has `high_risk_allowed`."""
    found = container.high_risk.listed(principal)
    return HighRiskList(items=[HighRiskRead.of(p) for p in found])


@router.post(
    "/high-risk-destinations",
    status_code=201,
    response_model=HighRiskList,
    responses=responses(401, 403, 409, 422),
)
def add_high_risk(
    body: HighRiskCreate, principal: Changer, container: ContainerDep
) -> HighRiskList:
    """Mark prefixes high risk (those marked already are left as they are); the ones
    added."""
    added = container.high_risk.add(principal, [(p, body.note) for p in body.prefixes])
    return HighRiskList(items=[HighRiskRead.of(p) for p in added])


@router.delete(
    "/high-risk-destinations/{prefix}", status_code=204, responses=responses(401, 403, 404, 422)
)
def remove_high_risk(
    prefix: Annotated[str, Path(min_length=1, max_length=16)],
    principal: Changer,
    container: ContainerDep,
) -> Response:
    """Unmark a prefix."""
    container.high_risk.remove(principal, prefix)
    return Response(status_code=204)
