"""Attribute mapping, pure: RADIUS attributes → charging requests, answers → attributes.

Who is calling (Access-Request and Accounting-Request alike):

* ``User-Password`` present → ``User-Name`` is a calling-card number and the password its
  PIN (Cisco debit-card IVR style); nothing else identifies the caller.
* otherwise ``User-Name`` is tried as a SIP username, ``Calling-Station-Id`` as the ANI
  and Cisco ``h323-remote-address`` as the source IP, in that order (charging's order).

Every caller carries the operator of the client that asked (``operator_id``): it is
looked up among that operator's identifiers only.

``Called-Station-Id`` is the callee. Cisco h323 VSAs are written ``h323-name=value``, the
form Cisco gateways parse; on reading, that prefix is optional.

An Access-Accept names the caller's account (``Cisco-AVPair = "voxbill-account=ID"``)
and every paying level of its chain, caller first (seed 000: user, group, service
provider), one ``Cisco-AVPair`` each: ``voxbill-level-N=account=ID;kind=KIND;
balance=AMOUNT;currency=CUR;balance-account=ID``; every balance (``h323-credit-amount``
too) is what it may spend before this call's hold (authorize holds nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from voxbill.outcomes import Refusal
from voxbill.services.charging.results import PayingLevel
from voxbill.services.charging.service import Authorization, CallerId

Attributes = list[tuple[str, Any]]


class AcctStatus(Enum):
    START = "Start"
    STOP = "Stop"
    INTERIM = "Interim-Update"
    ACCOUNTING_ON = "Accounting-On"
    ACCOUNTING_OFF = "Accounting-Off"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class AccessQuery:
    caller: CallerId
    callee: str


@dataclass(frozen=True, slots=True)
class AccountingRecord:
    """One Accounting-Request as charging sees it."""

    status: AcctStatus
    session_id: str | None
    duration: int  # Acct-Session-Time, seconds since the call was answered
    caller: CallerId
    callee: str
    event_time: datetime | None  # when the NAS saw the event (Event-Timestamp minus delay)


def first(packet: Mapping[str, Any], name: str) -> Any:
    """The first value of an attribute, or ``None`` (pyrad values are lists)."""
    values: Sequence[Any] | None = packet.get(name)
    return values[0] if values else None


def text(packet: Mapping[str, Any], name: str) -> str | None:
    """A string attribute, stripped; Cisco ``name=`` prefixes removed; ``None`` if absent,
    empty or not UTF-8."""
    value = first(packet, name)
    if not isinstance(value, str):
        return None
    if value.startswith(f"{name}="):
        value = value[len(name) + 1 :]
    return value.strip() or None


def _uri_user(value: str | None) -> str | None:
    """``sip:+4420…@host;user=phone`` → ``+4420…``; a plain number is kept."""
    if value is None:
        return None
    if value.lower().startswith(("sip:", "sips:", "tel:")):
        value = value.split(":", 1)[1]
    return value.split("@", 1)[0].split(";", 1)[0].strip() or None


def caller_of(
    packet: Mapping[str, Any], password: str | None, operator_id: int | None = None
) -> CallerId:
    user = text(packet, "User-Name")
    if password is not None:
        return CallerId(card=user, pin=password, operator_id=operator_id)
    return CallerId(
        sip_user=_uri_user(user),
        ani=_uri_user(text(packet, "Calling-Station-Id")),
        ip=text(packet, "h323-remote-address"),
        operator_id=operator_id,
    )


def access_query(
    packet: Mapping[str, Any], password: str | None, operator_id: int | None = None
) -> AccessQuery:
    callee = _uri_user(text(packet, "Called-Station-Id")) or ""
    return AccessQuery(caller_of(packet, password, operator_id), callee)


def _h323(name: str, value: object) -> tuple[str, str]:
    return (name, f"{name}={value}")


def _amount(value: Decimal) -> str:
    """A plain decimal string (never an exponent): ``10``, ``9.92``."""
    return format(value, "f")


def accept_attributes(answer: Authorization) -> Attributes:
    """Access-Accept: the longest the call may last and what the caller has left."""
    attributes: Attributes = [
        ("Session-Timeout", answer.max_duration),
        _h323("h323-credit-time", answer.max_duration),
        _h323("h323-return-code", 0),
    ]
    if answer.balance is not None:
        attributes.append(_h323("h323-credit-amount", _amount(answer.balance)))
    if answer.currency:
        attributes.append(_h323("h323-currency", answer.currency))
    if answer.account_id is not None:
        attributes.append(("Cisco-AVPair", f"voxbill-account={answer.account_id}"))
    attributes += [level_pair(level) for level in answer.levels]
    return attributes


def level_pair(level: PayingLevel) -> tuple[str, str]:
    """One paying level as a Cisco-AVPair (see the module docstring)."""
    return (
        "Cisco-AVPair",
        f"voxbill-level-{level.level}=account={level.account_id};kind={level.kind};"
        f"balance={_amount(level.balance)};currency={level.currency};"
        f"balance-account={level.balance_account_id}",
    )


def reject_attributes(refusal: Refusal) -> Attributes:
    """Access-Reject: the reason for people (Reply-Message) and for the gateway."""
    return [
        ("Reply-Message", refusal.text),
        _h323("h323-return-code", refusal.h323_return_code),
        ("Cisco-AVPair", f"voxbill-reason={refusal.reason}"),
    ]


_STATUSES = {status.value: status for status in AcctStatus}


def session_key(packet: Mapping[str, Any]) -> str | None:
    """The charging session id: Cisco's ``h323-conf-id`` when present (a gateway sends
    accounting for both legs of a call under one conference id: charge it once), else
    ``Acct-Session-Id``."""
    conference = text(packet, "h323-conf-id")
    if conference:
        return "h323:" + conference.replace(" ", "").lower()
    return text(packet, "Acct-Session-Id")


def accounting_record(
    packet: Mapping[str, Any], *, received: datetime, operator_id: int | None = None
) -> AccountingRecord:
    status = first(packet, "Acct-Status-Type")
    duration = first(packet, "Acct-Session-Time")
    stamp = first(packet, "Event-Timestamp")
    delay = first(packet, "Acct-Delay-Time")
    event = datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int) and stamp else None
    if isinstance(delay, int) and delay > 0:
        event = (event or received) - timedelta(seconds=delay)
    return AccountingRecord(
        status=_STATUSES.get(status, AcctStatus.OTHER)
        if isinstance(status, str)
        else (AcctStatus.OTHER),
        session_id=session_key(packet),
        duration=duration if isinstance(duration, int) else 0,
        caller=caller_of(packet, None, operator_id),
        callee=_uri_user(text(packet, "Called-Station-Id")) or "",
        event_time=event,
    )
