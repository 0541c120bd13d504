"""SMS segment counting (GSM 03.38 / 3GPP TS 23.038) and MCC/MNC parsing, by worked example."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxbill.domain.errors import InvalidInput
from voxbill.domain.sms import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    MccMnc,
    Segmentation,
    SmsEncoding,
    is_gsm7,
    parse_mcc_mnc,
    segment,
)

GSM7 = SmsEncoding.GSM7
UCS2 = SmsEncoding.UCS2
EMOJI = "\U0001f600"  # outside the BMP: a surrogate pair, 2 UTF-16 code units


def _size(ch: str, encoding: SmsEncoding) -> int:
    if encoding is GSM7:
        return 2 if ch in GSM7_EXTENDED else 1
    return len(ch.encode("utf-16-le", "surrogatepass")) // 2


def _units(text: str) -> tuple[SmsEncoding, int, int]:
    result = segment(text)
    return result.encoding, result.units, result.segments


# -- alphabet --------------------------------------------------------------------------


def test_basic_set_has_127_characters_and_extension_table_10() -> None:
    assert len(GSM7_BASIC) == 127  # 128 code points minus ESC
    assert sorted(GSM7_EXTENDED) == sorted("\f^{}\\[~]|€")
    assert not GSM7_BASIC & GSM7_EXTENDED


@pytest.mark.parametrize(
    "text",
    ["Hello, world!", "@£$¥èéùìòÇ\nØø\rÅå", "ΔΦΓΛΩΠΨΣΘΞ_ÆæßÉ", "¡¿ÄÖÑÜ§äöñüà¤", "{[~]}|^€\\\f"],
)
def test_gsm7_texts(text: str) -> None:
    assert is_gsm7(text)
    assert segment(text).encoding is GSM7


@pytest.mark.parametrize(
    "text",
    ["ç", "á", "Привет", "你好", "`", "\t", "\x1b", EMOJI, "Straße ok but ñ and ê"],
)
def test_anything_outside_gsm7_makes_ucs2(text: str) -> None:
    assert not is_gsm7(text)
    assert segment(text).encoding is UCS2


def test_extended_characters_count_two_septets() -> None:
    assert _units("€") == (GSM7, 2, 1)
    assert _units("a{b}c") == (GSM7, 7, 1)
    assert _units("^{}\\[~]|€\f") == (GSM7, 20, 1)


def test_empty_text_is_one_segment() -> None:
    assert segment("") == Segmentation(GSM7, 1, 0, 160, ((0, 0),))


# -- GSM-7 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (159, 1), (160, 1), (161, 2), (305, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_plain_lengths(length: int, segments: int) -> None:
    assert _units("a" * length) == (GSM7, length, segments)


def test_160_plain_is_one_message_at_single_capacity() -> None:
    assert segment("a" * 160) == Segmentation(GSM7, 1, 160, 160, ((0, 160),))


def test_161_plain_is_two_parts_of_153_and_8() -> None:
    assert segment("a" * 161) == Segmentation(GSM7, 2, 161, 153, ((0, 153), (153, 161)))


def test_159_plus_euro_is_161_septets_two_segments() -> None:
    assert _units("a" * 159 + "€") == (GSM7, 161, 2)
    assert _units("a" * 158 + "€") == (GSM7, 160, 1)


def test_escape_on_the_153rd_septet_moves_to_the_next_part() -> None:
    # 152 plain septets, then "€" would take septets 153-154: the part ends at 152.
    result = segment("a" * 152 + "€" + "b" * 10)
    assert result == Segmentation(GSM7, 2, 164, 153, ((0, 152), (152, 163)))


def test_escape_that_fits_exactly_ends_the_part_at_153() -> None:
    result = segment("a" * 151 + "€" + "b" * 10)
    assert result == Segmentation(GSM7, 2, 163, 153, ((0, 152), (152, 162)))


def test_escape_split_can_add_a_segment() -> None:
    # 306 septets would be 2 parts, but "€" straddles 153/154 so part 2 gets 154 septets.
    assert _units("a" * 152 + "€" + "b" * 152) == (GSM7, 306, 3)
    assert _units("a" * 151 + "€" + "b" * 153) == (GSM7, 306, 2)


def test_all_extended_parts_hold_76_characters() -> None:
    result = segment("€" * 81)  # 162 septets
    assert result == Segmentation(GSM7, 2, 162, 153, ((0, 76), (76, 81)))


# -- UCS-2 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (133, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_lengths(length: int, segments: int) -> None:
    assert _units("й" * length) == (UCS2, length, segments)


def test_one_non_gsm_character_switches_the_whole_text() -> None:
    assert _units("a" * 69 + "ç") == (UCS2, 70, 1)
    assert _units("a" * 70 + "ç") == (UCS2, 71, 2)
    assert segment("a" * 70 + "ç").parts == ((0, 67), (67, 71))


def test_extended_gsm_characters_count_one_in_ucs2() -> None:
    assert _units("€" * 69 + "ç") == (UCS2, 70, 1)


def test_emoji_counts_two_code_units() -> None:
    assert _units(EMOJI) == (UCS2, 2, 1)
    assert _units(EMOJI * 35) == (UCS2, 70, 1)
    assert _units(EMOJI * 35 + "a") == (UCS2, 71, 2)


def test_emoji_on_the_67th_unit_moves_to_the_next_part() -> None:
    result = segment("й" * 66 + EMOJI + "й" * 10)  # 78 units; the pair would be units 67-68
    assert result == Segmentation(UCS2, 2, 78, 67, ((0, 66), (66, 77)))


def test_emoji_that_fits_exactly_ends_the_part_at_67() -> None:
    result = segment("й" * 65 + EMOJI + "й" * 10)
    assert result == Segmentation(UCS2, 2, 77, 67, ((0, 66), (66, 76)))


def test_emoji_only_parts_hold_33_emoji() -> None:
    result = segment(EMOJI * 36)  # 72 units
    assert result == Segmentation(UCS2, 2, 72, 67, ((0, 33), (33, 36)))


def test_emoji_split_can_add_a_segment() -> None:
    assert _units("й" * 66 + EMOJI + "й" * 66) == (UCS2, 134, 3)
    assert _units("й" * 65 + EMOJI + "й" * 67) == (UCS2, 134, 2)


# -- properties ----------------------------------------------------------------------

_GSM_CHARS = "".join(sorted(GSM7_BASIC | GSM7_EXTENDED))
_characters = st.one_of(
    st.sampled_from(_GSM_CHARS),
    st.sampled_from("çйж你€{" + EMOJI + "\U0001f4a9"),
    st.characters(codec="utf-8"),
)
_texts = st.text(_characters, max_size=400)


@given(_texts, st.lists(_characters, min_size=1, max_size=40))
def test_segments_never_decrease_when_appending(text: str, extra: list[str]) -> None:
    previous = segment(text).segments
    for ch in extra:
        text += ch
        current = segment(text).segments
        assert current >= previous
        previous = current


@given(_texts)
def test_units_fit_the_segments_and_parts_cover_the_text(text: str) -> None:
    result = segment(text)
    assert result.units <= result.segments * result.units_per_segment
    assert len(result.parts) == result.segments
    assert "".join(text[a:b] for a, b in result.parts) == text
    sizes = [_size(ch, result.encoding) for ch in text]
    assert sum(sizes) == result.units
    if result.segments > 1:
        limit = result.units_per_segment
        for a, b in result.parts:
            used = sum(sizes[a:b])
            assert 0 < used <= limit
            assert b == len(text) or used + sizes[b] > limit  # closed only when full


@given(st.text(st.sampled_from(_GSM_CHARS), max_size=400))
def test_gsm7_text_never_takes_more_segments_than_as_ucs2(text: str) -> None:
    assert segment(text).segments <= segment(text + "ç").segments


# -- MCC/MNC -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("310260", ("310", "260")),
        ("310-260", ("310", "260")),
        ("20801", ("208", "01")),
        ("208-01", ("208", "01")),
        ("310-026", ("310", "026")),
        (" 234-15 ", ("234", "15")),
    ],
)
def test_parse_mcc_mnc(value: str, expected: tuple[str, str]) -> None:
    parsed = parse_mcc_mnc(value)
    assert parsed == expected
    assert parsed == MccMnc(*expected)
    assert (parsed.mcc, parsed.mnc) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "3102",
        "3102601",
        "31-0260",
        "310-2",
        "310-2601",
        "310--26",
        "31a260",
        "310 260",
        "３１０２６０",
        "310-",
        "-260",
        "310-26-0",
    ],
)
def test_parse_mcc_mnc_refuses(value: str) -> None:
    with pytest.raises(InvalidInput, match="MCC/MNC"):
        parse_mcc_mnc(value)
