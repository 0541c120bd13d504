"""Bodies of the account, identifier and API key endpoints (XCreate / XUpdate / XRead / XPage)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.api.schemas import AmountStr, DecimalStr, PlainText, shown, shown_or_none
from voxbill.domain.access import ApiKeyRecord, Role
from voxbill.domain.accounts import Account, AccountKind, AccountStatus, Billing, CutoffMode
from voxbill.domain.charging import CallCap, CapSource
from voxbill.domain.errors import InvalidInput
from voxbill.domain.identifiers import CallerIdentifier, IdentifierType
from voxbill.domain.partners import Position
from voxbill.services.access.keys import IssuedKey

MAX_ID = 2**31 - 1
AccountId = Annotated[int, Field(ge=1, le=MAX_ID)]
Count = Annotated[int, Field(ge=0, le=MAX_ID)]
Name = Annotated[PlainText, StringConstraints(min_length=1, max_length=200)]
PlanName = Annotated[PlainText, StringConstraints(min_length=1, max_length=100)]
Zone = Annotated[PlainText, StringConstraints(min_length=1, max_length=64)]
CreatableKind = Literal["reseller", "customer", "user", "card", "vendor"]


class _Settings(BaseModel):
    """Fields shared by create and update; all optional."""

    model_config = ConfigDict(extra="forbid")

    billing: Billing | None = None
    credit_limit: AmountStr | None = None
    alert_balance: AmountStr | None = None
    block_balance: AmountStr | None = None
    shared_balance: bool | None = None
    cutoff_mode: CutoffMode | None = None
    max_concurrent_calls: Count | None = None
    low_balance_concurrent_calls: Count | None = None
    max_call_cost: AmountStr | None = None
    max_call_duration: Count | None = None
    message_rate_limit: Count | None = None
    shared_balance_call_cap: Count | None = Field(
        default=None,
        description="operator accounts only: the longest grant (seconds) of a call without "
        "interim updates on a shared balance under this operator, when no account of the "
        "call's chain sets max_call_duration (null: the server's setting; 0: none)",
    )
    hourly_spend_cap: AmountStr | None = Field(
        default=None, description="spend per calendar hour of the account's timezone"
    )
    daily_spend_cap: AmountStr | None = Field(
        default=None, description="spend per calendar day of the account's timezone"
    )
    high_risk_allowed: bool | None = Field(
        default=None, description="may call the operator's high-risk destinations"
    )
    high_risk_daily_cap: AmountStr | None = Field(
        default=None, description="spend on high-risk destinations per calendar day"
    )
    topup_min: AmountStr | None = Field(default=None, description="online top-ups (null: none)")
    topup_max: AmountStr | None = None
    topup_daily_max: AmountStr | None = Field(default=None, description="the account's day")
    topup_monthly_max: AmountStr | None = None
    rate_plan: PlanName | None = None
    sms_plan: PlanName | None = None
    timezone: Zone | None = None
    tax_profile: Annotated[PlainText, StringConstraints(max_length=64)] | None = Field(
        default=None, description="the tax profile the account's invoices apply"
    )
    partner_id: AccountId | None = Field(
        default=None,
        description="vendors only: the customer or reseller account that is the same "
        "company's inbound side (a two-way partner; docs/charging.md); null unlinks",
    )


class AccountCreate(_Settings):
    name: Name
    kind: CreatableKind
    parent_id: AccountId | None = Field(
        default=None, description="default: the calling key's own account"
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")] | None = Field(
        default=None, description="default: the parent's currency"
    )

    def fields(self) -> dict[str, object]:
        """The given fields, as the account service takes them (``None``: default)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class AccountUpdate(_Settings):
    """Only the fields present are changed; ``null`` clears an optional setting."""

    name: Name | None = None
    status: AccountStatus | None = None
    parent_id: AccountId | None = Field(default=None, description="move within your subtree")

    def changes(self) -> dict[str, object]:
        required = {"name", "status", "parent_id", "billing", "credit_limit", "block_balance"}
        required |= {"shared_balance", "cutoff_mode", "timezone", "high_risk_allowed"}
        given = self.model_dump(exclude_unset=True)
        nulls = sorted(k for k, v in given.items() if v is None and k in required)
        if nulls:
            raise InvalidInput(f"{', '.join(nulls)} cannot be null")
        return given


class AccountRead(BaseModel):
    id: int
    parent_id: int | None
    path: str
    depth: int
    kind: AccountKind
    name: str
    status: AccountStatus
    currency: str
    billing: Billing
    credit_limit: DecimalStr
    alert_balance: DecimalStr | None
    block_balance: DecimalStr
    shared_balance: bool
    cutoff_mode: CutoffMode
    max_concurrent_calls: int | None
    low_balance_concurrent_calls: int | None
    max_call_cost: DecimalStr | None
    max_call_duration: int | None
    message_rate_limit: int | None
    shared_balance_call_cap: int | None
    hourly_spend_cap: DecimalStr | None
    daily_spend_cap: DecimalStr | None
    high_risk_allowed: bool
    high_risk_daily_cap: DecimalStr | None
    topup_min: DecimalStr | None = None
    topup_max: DecimalStr | None = None
    topup_daily_max: DecimalStr | None = None
    topup_monthly_max: DecimalStr | None = None
    rate_plan: str | None
    sms_plan: str | None
    timezone: str
    tax_profile: str | None
    partner_id: int | None = Field(
        default=None, description="vendors only: the linked partner's customer-side account"
    )
    created_at: datetime | None
    updated_at: datetime | None
    effective_max_call_duration: int = Field(
        description="read-only: the longest grant (seconds) of this account's calls without "
        "interim updates (docs/charging.md, shared balances); its funds may allow less"
    )
    effective_max_call_duration_source: CapSource = Field(
        description="where it comes from: `account` (the max_call_duration of this account "
        "or an ancestor), `shared_balance_default` (the operator default for a shared "
        "balance) or `system` (the longest call ever granted)"
    )
    effective_max_call_duration_account_id: int | None = Field(
        description="the account whose max_call_duration it is (source `account`)"
    )

    @classmethod
    def of(cls, a: Account, cap: CallCap) -> AccountRead:
        b, lim, p = a.balance, a.limits, a.plans
        return cls(
            id=a.id,
            parent_id=a.parent_id,
            path=a.path,
            depth=a.depth,
            kind=a.kind,
            name=a.name,
            status=a.status,
            currency=a.currency,
            billing=b.billing,
            credit_limit=shown(b.credit_limit, a.currency),
            alert_balance=shown_or_none(b.alert_balance, a.currency),
            block_balance=shown(b.block_balance, a.currency),
            shared_balance=b.shared_balance,
            cutoff_mode=b.cutoff_mode,
            max_concurrent_calls=lim.max_concurrent_calls,
            low_balance_concurrent_calls=lim.low_balance_concurrent_calls,
            max_call_cost=shown_or_none(lim.max_call_cost, a.currency),
            max_call_duration=lim.max_call_duration,
            message_rate_limit=lim.message_rate_limit,
            shared_balance_call_cap=lim.shared_balance_call_cap,
            hourly_spend_cap=shown_or_none(lim.hourly_spend_cap, a.currency),
            daily_spend_cap=shown_or_none(lim.daily_spend_cap, a.currency),
            high_risk_allowed=lim.high_risk_allowed,
            high_risk_daily_cap=shown_or_none(lim.high_risk_daily_cap, a.currency),
            topup_min=shown_or_none(lim.topup_min, a.currency),
            topup_max=shown_or_none(lim.topup_max, a.currency),
            topup_daily_max=shown_or_none(lim.topup_daily_max, a.currency),
            topup_monthly_max=shown_or_none(lim.topup_monthly_max, a.currency),
            rate_plan=p.rate_plan,
            sms_plan=p.sms_plan,
            timezone=a.timezone,
            tax_profile=a.tax_profile,
            partner_id=a.partner_id,
            created_at=a.created_at,
            updated_at=a.updated_at,
            effective_max_call_duration=cap.seconds,
            effective_max_call_duration_source=cap.source,
            effective_max_call_duration_account_id=cap.account_id,
        )


class AccountPage(BaseModel):
    items: list[AccountRead]
    next_after_id: int | None = Field(description="pass as after_id for the next page")


class IdentifierCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: IdentifierType
    value: Annotated[PlainText, StringConstraints(min_length=1, max_length=128)]
    pin: Annotated[PlainText, StringConstraints(min_length=1, max_length=12)] | None = None


class IdentifierRead(BaseModel):
    id: int
    account_id: int
    type: IdentifierType
    value: str
    created_at: datetime

    @classmethod
    def of(cls, i: CallerIdentifier) -> IdentifierRead:
        return cls(
            id=i.id, account_id=i.account_id, type=i.type, value=i.value, created_at=i.created_at
        )


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    label: Annotated[PlainText, StringConstraints(max_length=200)] | None = None


class ApiKeyRead(BaseModel):
    id: int
    account_id: int
    role: Role
    prefix: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, k: ApiKeyRecord) -> ApiKeyRead:
        return cls(
            id=k.id,
            account_id=k.account_id,
            role=k.role,
            prefix=k.prefix,
            label=k.label,
            created_at=k.created_at,
            revoked_at=k.revoked_at,
        )


class ApiKeyIssued(ApiKeyRead):
    api_key: str = Field(description="shown once: store it now")

    @classmethod
    def issued(cls, issued: IssuedKey) -> ApiKeyIssued:
        return cls(**ApiKeyRead.of(issued.record).model_dump(), api_key=issued.secret)


class PartnerPositionRead(BaseModel):
    """A partner's running position with us (docs/charging.md, "Partners in both
    directions"); ledger balances, open holds not subtracted."""

    account_id: int = Field(description="the customer side (or a vendor without a link)")
    vendor_id: int | None = Field(description="the linked vendor: its outbound side")
    cutoff_mode: CutoffMode = Field(description="the company's mode, governing both sides")
    currency: str
    inbound_balance: DecimalStr = Field(description="what it paid us - what we billed it")
    outbound_balance: DecimalStr = Field(
        description="what we paid it - what it billed us (negative: we owe it)"
    )
    net_position: DecimalStr = Field(description="inbound_balance - outbound_balance")
    inbound_cut_off: bool = Field(description="its calls to us are refused `cut_off` now")
    outbound_cut_off: bool = Field(description="routing skips its vendor side now")

    @classmethod
    def of(cls, p: Position) -> PartnerPositionRead:
        return cls(
            account_id=p.account_id,
            vendor_id=p.vendor_id,
            cutoff_mode=p.cutoff_mode,
            currency=p.currency,
            inbound_balance=shown(p.inbound_balance, p.currency),
            outbound_balance=shown(p.outbound_balance, p.currency),
            net_position=shown(p.net_position, p.currency),
            inbound_cut_off=p.inbound_cut_off,
            outbound_cut_off=p.outbound_cut_off,
        )
