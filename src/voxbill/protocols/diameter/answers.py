"""Coding the answers: CEA, DWA, DPA, CCA and protocol errors (RFC 6733 §5, §7; RFC 4006)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from diameter.message import constants as c

from .gy import GyResult
from .options import DiameterOptions
from .requests import GY_APPLICATION, Envelope, ServiceKey
from .wire import ProtocolError, answer_header, encode, new

#: ISO 4217 numeric codes for Cost-Information's Currency-Code.
CURRENCY_CODES: Final = {
    "USD": 840, "EUR": 978, "GBP": 826, "CHF": 756, "CAD": 124, "AUD": 36,
    "JPY": 392, "INR": 356, "BRL": 986, "ZAR": 710, "SEK": 752, "NOK": 578,
    "DKK": 208, "PLN": 985, "NGN": 566, "KES": 404, "MXN": 484, "AED": 784,
}  # fmt: skip


def _origin(options: DiameterOptions) -> list[Any]:
    return [
        new(c.AVP_ORIGIN_HOST, options.origin_host.encode()),
        new(c.AVP_ORIGIN_REALM, options.origin_realm.encode()),
    ]


def _base(header: Any, options: DiameterOptions, result: int) -> bytes:
    avps = [new(c.AVP_RESULT_CODE, result), *_origin(options)]
    avps.append(new(c.AVP_ORIGIN_STATE_ID, options.state_id))
    return encode(answer_header(header), avps)


def capabilities(header: Any, options: DiameterOptions, result: int, local_ip: str) -> bytes:
    """A CEA; a protocol error (3xxx: 3010 for an unknown peer) sets the E bit."""
    avps = [new(c.AVP_RESULT_CODE, result), *_origin(options)]
    avps += [
        new(c.AVP_HOST_IP_ADDRESS, local_ip),
        new(c.AVP_VENDOR_ID, options.vendor_id),
        new(c.AVP_PRODUCT_NAME, options.product_name),
        new(c.AVP_ORIGIN_STATE_ID, options.state_id),
        new(c.AVP_AUTH_APPLICATION_ID, GY_APPLICATION),
    ]
    return encode(answer_header(header, error=3000 <= result < 4000), avps)


def watchdog(header: Any, options: DiameterOptions) -> bytes:
    return _base(header, options, c.E_RESULT_CODE_DIAMETER_SUCCESS)


def disconnect(header: Any, options: DiameterOptions) -> bytes:
    avps = [new(c.AVP_RESULT_CODE, c.E_RESULT_CODE_DIAMETER_SUCCESS), *_origin(options)]
    return encode(answer_header(header), avps)


def protocol_error(
    header: Any, options: DiameterOptions, error: ProtocolError, session_id: str | None = None
) -> bytes:
    """An answer-message (E bit for 3xxx) naming the failed AVP when there is one."""
    avps = [] if session_id is None else [new(c.AVP_SESSION_ID, session_id)]
    avps += [*_origin(options), new(c.AVP_RESULT_CODE, error.result_code)]
    avps.append(new(c.AVP_ERROR_MESSAGE, str(error)[:200]))
    if error.failed is not None:
        avps.append(new(c.AVP_FAILED_AVP, [error.failed]))
    return encode(answer_header(header, error=3000 <= error.result_code < 4000), avps)


def cost_information(cost: Decimal, currency: str) -> Any | None:
    """Cost-Information: the exact cost as Value-Digits * 10^Exponent."""
    code = CURRENCY_CODES.get(currency)
    if code is None:
        return None
    sign, digits, exponent = cost.as_tuple()
    assert isinstance(exponent, int)
    number = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    unit = [new(c.AVP_VALUE_DIGITS, number), new(c.AVP_EXPONENT, exponent)]
    return new(
        c.AVP_COST_INFORMATION, [new(c.AVP_UNIT_VALUE, unit), new(c.AVP_CURRENCY_CODE, code)]
    )


def _units(result: GyResult) -> list[Any]:
    """Granted-Service-Unit, Validity-Time and Final-Unit-Indication of a result."""
    avps = []
    if result.granted_seconds is not None:
        avps.append(new(c.AVP_GRANTED_SERVICE_UNIT, [new(c.AVP_CC_TIME, result.granted_seconds)]))
    if result.granted_units is not None:
        units = new(c.AVP_CC_SERVICE_SPECIFIC_UNITS, result.granted_units)
        avps.append(new(c.AVP_GRANTED_SERVICE_UNIT, [units]))
    if result.validity_time is not None:
        avps.append(new(c.AVP_VALIDITY_TIME, result.validity_time))
    if result.final:
        action = new(c.AVP_FINAL_UNIT_ACTION, c.E_FINAL_UNIT_ACTION_TERMINATE)
        avps.append(new(c.AVP_FINAL_UNIT_INDICATION, [action]))
    return avps


def credit_control(
    header: Any,
    options: DiameterOptions,
    envelope: Envelope,
    result: GyResult,
    service: ServiceKey | None = None,
    failed: Any | None = None,
) -> bytes:
    """A CCA; units go inside one Multiple-Services-Credit-Control when the CCR used one,
    and an AVP error (5004 / 5005) names its Failed-AVP."""
    avps = [] if envelope.session_id is None else [new(c.AVP_SESSION_ID, envelope.session_id)]
    avps += [new(c.AVP_RESULT_CODE, result.result_code), *_origin(options)]
    avps.append(new(c.AVP_AUTH_APPLICATION_ID, GY_APPLICATION))
    avps.append(new(c.AVP_CC_REQUEST_TYPE, envelope.request_type or 0))
    avps.append(new(c.AVP_CC_REQUEST_NUMBER, envelope.request_number or 0))
    units = _units(result)
    if service is not None and units:
        members = list(units)
        if service.rating_group is not None:
            members.append(new(c.AVP_RATING_GROUP, service.rating_group))
        if service.service_identifier is not None:
            members.append(new(c.AVP_SERVICE_IDENTIFIER, service.service_identifier))
        members.append(new(c.AVP_RESULT_CODE, result.result_code))
        avps.append(new(c.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL, members))
    else:
        avps += units
    if result.cost is not None and result.currency is not None:
        cost = cost_information(result.cost, result.currency)
        if cost is not None:
            avps.append(cost)
    if result.error_message and result.result_code != c.E_RESULT_CODE_DIAMETER_SUCCESS:
        avps.append(new(c.AVP_ERROR_MESSAGE, result.error_message[:200]))
    if failed is not None:
        avps.append(new(c.AVP_FAILED_AVP, [failed]))
    return encode(answer_header(header, error=3000 <= result.result_code < 4000), avps)
