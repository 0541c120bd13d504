"""Reading CCRs into charging commands, and coding the answers, without a network."""

from __future__ import annotations

from decimal import Decimal

import pytest
from diameter.message import Avp, Message
from diameter.message import constants as c

from voxbill.protocols.diameter import answers
from voxbill.protocols.diameter.requests import RequestType, ServiceKey, address, read_ccr
from voxbill.protocols.diameter.wire import ProtocolError

TGPP = c.VENDOR_TGPP


def avp(code: int, data: object, vendor: int = 0) -> Avp:
    return Avp.new(code, vendor, value=data)


def ccr(*extra: Avp, request_type: int = 1, number: int = 0) -> list[Avp]:
    return [
        avp(c.AVP_SESSION_ID, "pcscf.example;1;2"),
        avp(c.AVP_ORIGIN_HOST, b"pcscf.example"),
        avp(c.AVP_ORIGIN_REALM, b"example"),
        avp(c.AVP_AUTH_APPLICATION_ID, 4),
        avp(c.AVP_CC_REQUEST_TYPE, request_type),
        avp(c.AVP_CC_REQUEST_NUMBER, number),
        *extra,
    ]


def subscription(kind: int, data: str) -> Avp:
    return avp(
        c.AVP_SUBSCRIPTION_ID,
        [avp(c.AVP_SUBSCRIPTION_ID_TYPE, kind), avp(c.AVP_SUBSCRIPTION_ID_DATA, data)],
    )


def ims_called(uri: str) -> Avp:
    called = avp(c.AVP_TGPP_CALLED_PARTY_ADDRESS, uri, TGPP)
    ims = avp(c.AVP_TGPP_IMS_INFORMATION, [called], TGPP)
    return avp(c.AVP_TGPP_SERVICE_INFORMATION, [ims], TGPP)


def used(seconds: int) -> Avp:
    return avp(c.AVP_USED_SERVICE_UNIT, [avp(c.AVP_CC_TIME, seconds)])


def test_subscription_ids_map_to_ani_and_sip_user_and_ims_called_party_to_callee() -> None:
    request = read_ccr(
        ccr(
            subscription(c.E_SUBSCRIPTION_ID_TYPE_END_USER_E164, "441000000001"),
            subscription(c.E_SUBSCRIPTION_ID_TYPE_END_USER_SIP_URI, "sip:alice@ims.example"),
            ims_called("sip:+442079460000@ims.example;user=phone"),
        )
    )
    assert request.request_type is RequestType.INITIAL
    assert (request.caller.ani, request.caller.sip_user) == ("441000000001", "alice")
    assert request.callee == "+442079460000"
    assert request.used_seconds == 0


def test_called_station_id_is_the_callee_when_there_is_no_ims_information() -> None:
    request = read_ccr(ccr(avp(c.AVP_CALLED_STATION_ID, "tel:+33142000000")))
    assert request.callee == "+33142000000"
    assert request.caller.ani is None


def test_used_service_units_are_summed_across_top_level_and_mscc() -> None:
    mscc = avp(
        c.AVP_MULTIPLE_SERVICES_CREDIT_CONTROL,
        [used(40), avp(c.AVP_RATING_GROUP, 7), avp(c.AVP_SERVICE_IDENTIFIER, 1)],
    )
    request = read_ccr(ccr(used(260), mscc, request_type=2, number=3))
    assert (request.request_type, request.request_number) == (RequestType.UPDATE, 3)
    assert request.used_seconds == 300
    assert request.service == ServiceKey(rating_group=7, service_identifier=1)


def test_a_missing_session_id_is_5005_naming_the_avp() -> None:
    with pytest.raises(ProtocolError) as caught:
        read_ccr(ccr()[1:])
    assert caught.value.result_code == 5005
    assert caught.value.failed is not None
    assert caught.value.failed.code == c.AVP_SESSION_ID


@pytest.mark.parametrize(
    "bad",
    [
        avp(c.AVP_CC_REQUEST_TYPE, 9),
        Avp(c.AVP_CC_REQUEST_NUMBER, 0, b"\x00\x01", 0x40),  # 2 bytes for an Unsigned32
        Avp(c.AVP_USED_SERVICE_UNIT, 0, b"\x00\x00\x01\xa4\x40", 0x40),  # broken group
    ],
)
def test_an_undecodable_or_unknown_value_is_5004_naming_the_avp(bad: Avp) -> None:
    avps = [a for a in ccr() if a.code != bad.code] + [bad]
    with pytest.raises(ProtocolError) as caught:
        read_ccr(avps)
    assert caught.value.result_code == 5004
    assert caught.value.failed is bad


def test_addresses_lose_their_scheme_domain_and_parameters() -> None:
    assert address("tel:+4420;phone-context=x") == "+4420"
    assert address("sip:+4420@ims.example;user=phone") == "+4420"
    assert address("SIPS:bob@example") == "bob"
    assert address("441000000001") == "441000000001"


def test_cost_information_carries_the_exact_decimal() -> None:
    info = answers.cost_information(Decimal("0.6800"), "USD")
    unit, currency = info.value
    digits, exponent = unit.value
    assert (digits.value, exponent.value, currency.value) == (6800, -4, 840)
    assert answers.cost_information(Decimal("1"), "XXX") is None


def test_a_cca_echoes_the_envelope_and_puts_units_in_the_mscc_the_ccr_used() -> None:
    from diameter.message import MessageHeader

    from voxbill.protocols.diameter.gy import GyResult
    from voxbill.protocols.diameter.options import DiameterOptions
    from voxbill.protocols.diameter.requests import Envelope

    header = MessageHeader(command_flags=0xC0, command_code=272, application_id=4)
    header.hop_by_hop_identifier, header.end_to_end_identifier = 11, 22
    result = GyResult(2001, granted_seconds=300, validity_time=360, final=True)
    data = answers.credit_control(
        header, DiameterOptions(), Envelope("s;1", 1, 0), result, ServiceKey(7, None)
    )
    cca = Message.from_bytes(data)
    assert (cca.header.hop_by_hop_identifier, cca.header.end_to_end_identifier) == (11, 22)
    assert not cca.header.is_request
    assert not cca.header.is_error
    assert (cca.session_id, cca.result_code, cca.cc_request_number) == ("s;1", 2001, 0)
    mscc = cca.multiple_services_credit_control[0]
    assert mscc.granted_service_unit.cc_time == 300
    assert mscc.rating_group == 7
    assert mscc.validity_time == 360
    assert mscc.final_unit_indication.final_unit_action == c.E_FINAL_UNIT_ACTION_TERMINATE
