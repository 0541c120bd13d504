"""A Credit-Control-Request read into what charging needs (RFC 4006 §3.1, TS 32.299).

Caller: Subscription-Id END_USER_E164 → ANI, END_USER_SIP_URI → SIP user; without one,
IMS-Information Calling-Party-Address. Callee: IMS-Information Called-Party-Address,
then Called-Station-Id; for messages SMS-Information Recipient-Address. Usage: the
CC-Time of every Used-Service-Unit (top level and in Multiple-Services-Credit-Control),
which RFC 4006 §8.19 defines as units used *since the last report*.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from diameter.message import constants as c

from voxbill.services.charging.service import CallerId

from .wire import INVALID_AVP_VALUE, MISSING_AVP, ProtocolError, children, first, new, path, value

CREDIT_CONTROL: Final = 272
GY_APPLICATION: Final = c.APP_DIAMETER_CREDIT_CONTROL_APPLICATION
TGPP: Final = c.VENDOR_TGPP
_MAX_SESSION_ID: Final = 200
_MAX_SECONDS: Final = 7 * 86400


class RequestType(IntEnum):
    INITIAL = 1
    UPDATE = 2
    TERMINATION = 3
    EVENT = 4


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """The Multiple-Services-Credit-Control a request used, echoed in its answer."""

    rating_group: int | None
    service_identifier: int | None


@dataclass(frozen=True, slots=True)
class GyRequest:
    session_id: str
    request_type: RequestType
    request_number: int
    caller: CallerId
    callee: str | None
    used_seconds: int
    requested_action: int | None = None
    requested_units: int | None = None
    service_context: str | None = None
    service: ServiceKey | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every CCA echoes, readable even from a CCR that is otherwise invalid."""

    session_id: str | None
    request_type: int | None
    request_number: int | None


def _int(avp: Any) -> int:
    data = value(avp)
    if not isinstance(data, int):
        raise ProtocolError(INVALID_AVP_VALUE, f"AVP {avp.code} is not an integer", avp)
    return data


def _text(avp: Any) -> str:
    data = value(avp)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(INVALID_AVP_VALUE, f"AVP {avp.code} is not UTF-8", avp) from None
    if not isinstance(data, str) or not data.isprintable():
        raise ProtocolError(INVALID_AVP_VALUE, f"AVP {avp.code} is not printable text", avp)
    return data


def _required(avps: list[Any], code: int, name: str) -> Any:
    found = first(avps, code)
    if found is None:
        raise ProtocolError(MISSING_AVP, f"{name} is missing", _empty(code))
    return found


def _empty(code: int) -> Any:
    zero: dict[int, Any] = {c.AVP_SESSION_ID: "", c.AVP_CC_REQUEST_TYPE: 0}
    return new(code, zero.get(code, 0))


def envelope(avps: list[Any]) -> Envelope:
    """Session-Id, CC-Request-Type and CC-Request-Number if present and decodable."""

    def maybe(code: int, read: Any) -> Any:
        avp = first(avps, code)
        try:
            return None if avp is None else read(avp)
        except ProtocolError:
            return None

    return Envelope(
        maybe(c.AVP_SESSION_ID, _text),
        maybe(c.AVP_CC_REQUEST_TYPE, _int),
        maybe(c.AVP_CC_REQUEST_NUMBER, _int),
    )


def address(uri: str) -> str:
    """The user part of a tel:/sip: URI (``sip:+4420…@ims.example;user=phone`` → +4420…)."""
    text = uri.strip()
    lowered = text.lower()
    for scheme in ("tel:", "sip:", "sips:"):
        if lowered.startswith(scheme):
            text = text[len(scheme) :]
            break
    return text.split("@", 1)[0].split(";", 1)[0].strip()


def _caller(avps: list[Any]) -> CallerId:
    ani = sip_user = None
    for group in path(avps, (c.AVP_SUBSCRIPTION_ID, 0)):
        members = children(group)
        kind, data = (
            first(members, c.AVP_SUBSCRIPTION_ID_TYPE),
            first(members, c.AVP_SUBSCRIPTION_ID_DATA),
        )
        if kind is None or data is None:
            raise ProtocolError(MISSING_AVP, "Subscription-Id needs a type and data", group)
        if _int(kind) == c.E_SUBSCRIPTION_ID_TYPE_END_USER_E164:
            ani = ani or address(_text(data))
        elif _int(kind) == c.E_SUBSCRIPTION_ID_TYPE_END_USER_SIP_URI:
            sip_user = sip_user or address(_text(data))
    if ani is None and sip_user is None:
        ims = (c.AVP_TGPP_SERVICE_INFORMATION, TGPP), (c.AVP_TGPP_IMS_INFORMATION, TGPP)
        for avp in path(avps, *ims, (c.AVP_TGPP_CALLING_PARTY_ADDRESS, TGPP)):
            ani = address(_text(avp))
    return CallerId(ani=ani or None, sip_user=sip_user or None)


def _callee(avps: list[Any]) -> str | None:
    service = (c.AVP_TGPP_SERVICE_INFORMATION, TGPP)
    ims = (c.AVP_TGPP_IMS_INFORMATION, TGPP)
    candidates = [
        *path(avps, service, ims, (c.AVP_TGPP_CALLED_PARTY_ADDRESS, TGPP)),
        *path(avps, (c.AVP_CALLED_STATION_ID, 0)),
        *path(
            avps,
            service,
            (c.AVP_TGPP_SMS_INFORMATION, TGPP),
            (c.AVP_TGPP_RECIPIENT_INFO, TGPP),
            (c.AVP_TGPP_RECIPIENT_ADDRESS, TGPP),
            (c.AVP_TGPP_ADDRESS_DATA, TGPP),
        ),
    ]
    return address(_text(candidates[0])) if candidates else None


def _used_seconds(avps: list[Any]) -> int:
    reports = path(avps, (c.AVP_USED_SERVICE_UNIT, 0), (c.AVP_CC_TIME, 0))
    mscc = (c.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL, 0)
    reports += path(avps, mscc, (c.AVP_USED_SERVICE_UNIT, 0), (c.AVP_CC_TIME, 0))
    total = 0
    for avp in reports:
        seconds = _int(avp)
        if not 0 <= seconds <= _MAX_SECONDS:
            raise ProtocolError(INVALID_AVP_VALUE, "CC-Time out of range", avp)
        total += seconds
    return total


def _requested_units(avps: list[Any]) -> int | None:
    rsu = (c.AVP_REQUESTED_SERVICE_UNIT, 0), (c.AVP_CC_SERVICE_SPECIFIC_UNITS, 0)
    mscc = (c.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL, 0)
    found = path(avps, *rsu) or path(avps, mscc, *rsu)
    return _int(found[0]) if found else None


def _service(avps: list[Any]) -> ServiceKey | None:
    groups = path(avps, (c.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL, 0))
    if not groups:
        return None
    members = children(groups[0])
    group, ident = first(members, c.AVP_RATING_GROUP), first(members, c.AVP_SERVICE_IDENTIFIER)
    return ServiceKey(
        None if group is None else _int(group), None if ident is None else _int(ident)
    )


def read_ccr(avps: list[Any]) -> GyRequest:
    """The request, or :class:`ProtocolError` (5004 / 5005) naming the failed AVP."""
    session_avp = _required(avps, c.AVP_SESSION_ID, "Session-Id")
    session_id = _text(session_avp)
    if not 1 <= len(session_id) <= _MAX_SESSION_ID:
        raise ProtocolError(INVALID_AVP_VALUE, "Session-Id of 1 to 200 characters", session_avp)
    for code, name in ((c.AVP_ORIGIN_HOST, "Origin-Host"), (c.AVP_ORIGIN_REALM, "Origin-Realm")):
        _required(avps, code, name)
    type_avp = _required(avps, c.AVP_CC_REQUEST_TYPE, "CC-Request-Type")
    try:
        request_type = RequestType(_int(type_avp))
    except ValueError:
        raise ProtocolError(INVALID_AVP_VALUE, "unknown CC-Request-Type", type_avp) from None
    number = _int(_required(avps, c.AVP_CC_REQUEST_NUMBER, "CC-Request-Number"))
    action = first(avps, c.AVP_REQUESTED_ACTION)
    context = first(avps, c.AVP_SERVICE_CONTEXT_ID)
    return GyRequest(
        session_id=session_id,
        request_type=request_type,
        request_number=number,
        caller=_caller(avps),
        callee=_callee(avps),
        used_seconds=_used_seconds(avps),
        requested_action=None if action is None else _int(action),
        requested_units=_requested_units(avps),
        service_context=None if context is None else _text(context),
        service=_service(avps),
    )
