"""Bodies of the vendor endpoints: SIP targets and the vendor list."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.api.schemas import DecimalStr, shown
from voxbill.domain.routing import SipTarget, Transport
from voxbill.services.routing.service import VendorListing

Host = Annotated[str, StringConstraints(min_length=1, max_length=255)]
TechPrefix = Annotated[str, StringConstraints(max_length=20)]


class SipTargetWrite(BaseModel):
    """Where a vendor takes calls: ``sip:{tech_prefix}{number}@{host}:{port}``."""

    model_config = ConfigDict(extra="forbid")

    host: Host
    port: Annotated[int, Field(ge=1, le=65535)] = 5060
    transport: Transport = Transport.UDP
    tech_prefix: TechPrefix = ""

    def target(self) -> SipTarget:
        return SipTarget(self.host, self.port, self.transport, self.tech_prefix)


class SipTargetRead(SipTargetWrite):
    account_id: int

    @classmethod
    def of(cls, account_id: int, target: SipTarget) -> SipTargetRead:
        return cls(
            account_id=account_id,
            host=target.host,
            port=target.port,
            transport=target.transport,
            tech_prefix=target.tech_prefix,
        )


class VendorRead(BaseModel):
    id: int
    name: str
    status: str
    currency: str
    rate_plan: str | None = Field(description="its buy plan (routing skips it without one)")
    partner_id: int | None = Field(description="the linked partner's customer-side account")
    cutoff_mode: str = Field(description="its own mode (a linked vendor keeps none)")
    balance: DecimalStr = Field(
        description="what we paid it minus what it billed us (negative: we owe it)"
    )
    sip_target: SipTargetRead | None = Field(
        description="null: none set, or the key is not an admin key (SIP targets are the "
        "operator's admins')"
    )

    @classmethod
    def of(cls, v: VendorListing) -> VendorRead:
        a = v.account
        return cls(
            id=a.id,
            name=a.name,
            status=a.status.value,
            currency=a.currency,
            rate_plan=a.plans.rate_plan,
            partner_id=a.partner_id,
            cutoff_mode=a.balance.cutoff_mode.value,
            balance=shown(v.balance or Decimal(0), a.currency),
            sip_target=None if v.target is None else SipTargetRead.of(a.id, v.target),
        )


class VendorPage(BaseModel):
    items: list[VendorRead]
    next_after_id: int | None = Field(description="pass as after_id for the next page")
