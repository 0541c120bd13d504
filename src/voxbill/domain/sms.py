"""SMS segments (GSM 03.38 / 3GPP TS 23.038) and MCC/MNC codes.

Messages are charged per segment, so the count must match what the SMSC will send:
GSM-7 when every character is in the default alphabet (extension-table characters take
an escape septet, so they count 2), UCS-2 otherwise (counted in UTF-16 code units, as
gateways send characters outside the BMP as surrogate pairs). A concatenated part loses
room to its user data header, and neither an escape sequence nor a surrogate pair is
ever split across two parts, so a part can hold one unit less than its capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NamedTuple

from voxbill.domain.errors import InvalidInput

#: The GSM 03.38 default alphabet (basic character set), minus the escape code itself.
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The default extension table: each is sent as ESC + one septet.
GSM7_EXTENDED: Final = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE: Final = 160
GSM7_PART: Final = 153
UCS2_SINGLE: Final = 70
UCS2_PART: Final = 67


class SmsEncoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True, slots=True)
class Segmentation:
    """How a text is sent: ``units`` are septets (GSM-7) or UTF-16 code units (UCS-2).

    ``units_per_segment`` is the capacity that applied (160/70 alone, 153/67 per part);
    ``parts`` are ``(start, end)`` slices of the text, one per segment.
    """

    encoding: SmsEncoding
    segments: int
    units: int
    units_per_segment: int
    parts: tuple[tuple[int, int], ...]


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 basic set or its extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def _unit_sizes(text: str, encoding: SmsEncoding) -> list[int]:
    if encoding is SmsEncoding.GSM7:
        return [2 if ch in GSM7_EXTENDED else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def segment(text: str) -> Segmentation:
    """Count the segments of ``text``; an empty text is still one (empty) message."""
    encoding = SmsEncoding.GSM7 if is_gsm7(text) else SmsEncoding.UCS2
    single, per_part = (
        (GSM7_SINGLE, GSM7_PART) if encoding is SmsEncoding.GSM7 else (UCS2_SINGLE, UCS2_PART)
    )
    sizes = _unit_sizes(text, encoding)
    units = sum(sizes)
    if units <= single:
        return Segmentation(encoding, 1, units, single, ((0, len(text)),))
    parts: list[tuple[int, int]] = []
    start = used = 0
    for index, size in enumerate(sizes):
        if used + size > per_part:  # close the part rather than split the character
            parts.append((start, index))
            start, used = index, 0
        used += size
    parts.append((start, len(text)))
    return Segmentation(encoding, len(parts), units, per_part, tuple(parts))


class MccMnc(NamedTuple):
    """A mobile network: country code (3 digits) and network code (2 or 3 digits)."""

    mcc: str
    mnc: str


def parse_mcc_mnc(value: str) -> MccMnc:
    """Read ``"310260"``, ``"31026"``, ``"310-260"`` or ``"310-26"``.

    Without a separator the length decides (5 digits: 2-digit MNC, 6: 3-digit), so the
    MNC's leading zeros are kept: ``"310-026"`` and ``"31026"`` are different networks.
    """
    text = value.strip()
    mcc, sep, mnc = text.partition("-")
    if not sep:
        mcc, mnc = text[:3], text[3:]
    if not (_digits(mcc) and len(mcc) == 3 and _digits(mnc) and len(mnc) in (2, 3)):
        raise InvalidInput(f"{value!r} is not an MCC/MNC (3-digit MCC, 2- or 3-digit MNC)")
    return MccMnc(mcc, mnc)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
