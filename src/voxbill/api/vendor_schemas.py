"""Bodies of the vendor SIP target endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.domain.routing import SipTarget, Transport

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
