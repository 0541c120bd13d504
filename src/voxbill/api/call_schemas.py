"""Bodies of the call and CDR endpoints. Money is a decimal string, never a float."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.api.account_schemas import AccountId
from voxbill.api.schemas import DecimalStr, PlainText
from voxbill.domain.cdrs import Cdr, CdrLeg
from voxbill.services.charging.results import PayingLevel
from voxbill.services.charging.service import (
    Authorization,
    CallerId,
    SessionGrant,
    SessionSettlement,
)

Short = Annotated[PlainText, StringConstraints(min_length=1, max_length=128)]
SessionId = Annotated[PlainText, StringConstraints(min_length=1, max_length=200)]
Seconds = Annotated[int, Field(ge=0, le=86400 * 6)]


class CallerIn(BaseModel):
    """How the switch identifies the caller: any of these (tried card + PIN, SIP user,
    ANI, source IP), or the account id when the switch already knows it."""

    model_config = ConfigDict(extra="forbid")

    ani: Short | None = None
    sip_user: Short | None = None
    ip: Short | None = None
    card: Short | None = None
    pin: Short | None = None
    account_id: AccountId | None = None

    def caller_id(self) -> CallerId:
        return CallerId(
            ani=self.ani,
            sip_user=self.sip_user,
            ip=self.ip,
            card=self.card,
            pin=self.pin,
            account_id=self.account_id,
        )


CallerField = Annotated[
    CallerIn | Short,
    Field(description="an object {ani, sip_user, ip, card, pin, account_id}, or a string: the ANI"),
]


def caller_of(value: CallerIn | str) -> CallerId:
    return CallerId(ani=value) if isinstance(value, str) else value.caller_id()


class CallAuthorize(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caller: CallerField
    callee: Short = Field(description="the called number")
    at: datetime | None = Field(default=None, description="the call's start (default: now)")


class CallStart(CallAuthorize):
    session_id: SessionId = Field(description="the switch's call id: a retry replays")
    interim: bool = Field(
        default=False,
        description="true: the switch sends updates; the grant comes in chunks",
    )
    vendor_id: AccountId | None = Field(
        default=None,
        description="the carrier the call is sent to (admin keys): the CDR's buy leg",
    )


class CallUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration: Seconds = Field(description="seconds since the call's start")
    request_number: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None


class CallStop(CallUpdate):
    pass


class PayingLevelRead(BaseModel):
    """One paying level of the caller's chain (caller first): user, customer, reseller."""

    level: int = Field(description="0: the caller; then each ancestor that pays, upwards")
    account_id: int
    kind: str = Field(description="the account's kind: user, card, customer, reseller …")
    balance: DecimalStr = Field(
        description="what the level's balance may still spend, before this call's hold"
    )
    currency: str
    balance_account_id: int = Field(
        description="the account whose balance it draws on: itself, or the ancestor it "
        "shares a balance with"
    )

    @classmethod
    def of(cls, level: PayingLevel) -> PayingLevelRead:
        return cls(
            level=level.level,
            account_id=level.account_id,
            kind=level.kind,
            balance=level.balance,
            currency=level.currency,
            balance_account_id=level.balance_account_id,
        )


def _levels(levels: tuple[PayingLevel, ...]) -> list[PayingLevelRead]:
    return [PayingLevelRead.of(level) for level in levels]


class AuthorizationRead(BaseModel):
    allowed: bool
    reason: str | None
    account_id: int | None
    max_duration: int
    rate: DecimalStr | None
    currency: str | None
    balance: DecimalStr | None = Field(description="what the caller may still spend")
    prefix: str | None
    destination: str | None
    levels: list[PayingLevelRead] = Field(
        default_factory=list, description="every paying level of the chain, caller first"
    )

    @classmethod
    def of(cls, a: Authorization) -> AuthorizationRead:
        return cls(**(vars(a) | {"levels": _levels(a.levels)}))


class GrantRead(BaseModel):
    session_id: str
    account_id: int
    granted_seconds: int = Field(description="seconds from the reported usage on")
    max_duration: int
    rate: DecimalStr
    currency: str
    balance: DecimalStr = Field(
        description="what the caller may still spend: at a start, before this call's hold"
    )
    expires_at: datetime
    final: bool
    replayed: bool
    levels: list[PayingLevelRead] = Field(
        default_factory=list,
        description="a start's paying levels, caller first, balances before this call's hold "
        "(an update names none)",
    )

    @classmethod
    def of(cls, g: SessionGrant) -> GrantRead:
        return cls(**(vars(g) | {"levels": _levels(g.levels)}))


class SettlementRead(BaseModel):
    session_id: str
    account_id: int
    duration: int
    billed_seconds: int
    cost: DecimalStr
    currency: str
    balance: DecimalStr
    cdr_id: int
    overrun: bool
    replayed: bool
    corrected: bool = Field(
        default=False,
        description="the sweeper had settled the call: its charge was corrected to this "
        "duration by a linked ledger correction",
    )

    @classmethod
    def of(cls, s: SessionSettlement) -> SettlementRead:
        return cls(**vars(s))


class CdrLegRead(BaseModel):
    level: int
    account_id: int
    plan: str
    prefix: str
    destination: str
    rate: DecimalStr
    billed_seconds: int
    cost: DecimalStr
    currency: str
    margin: DecimalStr | None
    side: str = Field(description="sell: a level of the caller's chain; buy: the vendor")
    swept_cost: DecimalStr | None = Field(
        default=None, description="what the sweeper charged this leg, when a late stop corrected it"
    )

    @classmethod
    def of(cls, leg: CdrLeg) -> CdrLegRead:
        return cls(**vars(leg))


class CdrRead(BaseModel):
    id: int
    session_id: str
    account_id: int
    caller: str
    callee: str
    started_at: datetime
    duration: int
    billed_seconds: int
    rate: DecimalStr
    cost: DecimalStr
    currency: str
    prefix: str
    destination: str
    overrun: bool
    settled_by: str
    legs: list[CdrLegRead]
    vendor_id: int | None = None
    vendor_cost: DecimalStr | None = None
    vendor_currency: str | None = None
    margin: DecimalStr | None = Field(
        default=None,
        description="what the operator was paid minus the vendor cost (null: no vendor, "
        "or no exchange rate between their currencies)",
    )
    settled_reason: str | None = Field(
        default=None,
        description="why the sweeper charged what it did: no_stop_last_usage, "
        "no_stop_no_usage_nothing or no_stop_no_usage_grant (null: settled by a stop)",
    )
    corrected_at: datetime | None = Field(
        default=None,
        description="when a stop arriving after the sweeper corrected the CDR to the actual "
        "duration (duration, cost… are then the corrected ones)",
    )
    swept_duration: int | None = Field(default=None, description="the sweeper's duration")
    swept_cost: DecimalStr | None = Field(default=None, description="the sweeper's cost")
    swept_vendor_cost: DecimalStr | None = Field(
        default=None, description="the sweeper's vendor cost"
    )

    @classmethod
    def of(cls, c: Cdr) -> CdrRead:
        fields = {k: v for k, v in vars(c).items() if k not in ("legs", "created_at")}
        return cls(**fields, legs=[CdrLegRead.of(leg) for leg in c.legs])


class CdrPage(BaseModel):
    items: list[CdrRead]
    next_before_id: int | None
