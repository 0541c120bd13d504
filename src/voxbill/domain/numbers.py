"""Dialled numbers to E.164 digits (country code first, no ``+``).

The hot path (a bare or ``+`` number) is plain string work; ``phonenumbers`` is used only
for national-format numbers when a default region is known.
"""

from __future__ import annotations

from typing import Final

import phonenumbers

from voxbill.domain.errors import InvalidNumber

_FORMATTING: Final = str.maketrans("", "", " -.()/\t")
MAX_E164_DIGITS: Final = 15


def _strip_uri(raw: str) -> str:
    text = raw.strip()
    lower = text[:4].lower()
    if lower.startswith(("sip:", "tel:")) or text[:5].lower() == "sips:":
        text = text.split(":", 1)[1]
        text = text.split("@", 1)[0].split(";", 1)[0]
    return text


def normalize_number(
    raw: str, *, default_region: str | None = None, international_prefix: str = "00"
) -> str:
    """E.164 digits for ``+CC…``, ``<international prefix>CC…`` and bare ``CC…`` numbers.

    With ``default_region`` (ISO country, e.g. ``GB``), a national number with a trunk
    prefix (``020 7946 0958``) is converted too.
    """
    text = _strip_uri(raw)
    if "(0)" in text and text.startswith(("+", international_prefix or "+")):
        text = text.replace("(0)", "", 1)  # "+44 (0)20 …": a trunk prefix for local callers
    text = text.translate(_FORMATTING)
    if not text:
        raise InvalidNumber(f"number {raw!r} is empty")
    if text[0] == "+":
        digits = text[1:]
    elif international_prefix and text.startswith(international_prefix):
        digits = text[len(international_prefix) :]
    elif default_region and text[0] == "0":
        digits = _national_to_e164(raw, text, default_region)
    else:
        digits = text
    if not digits.isdigit() or not digits.isascii():
        raise InvalidNumber(f"number {raw!r} has characters other than digits")
    if digits[0] == "0":
        raise InvalidNumber(f"number {raw!r} does not start with a country code")
    if len(digits) > MAX_E164_DIGITS:
        raise InvalidNumber(f"number {raw!r} is longer than {MAX_E164_DIGITS} digits")
    return digits


def _national_to_e164(raw: str, text: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"number {raw!r} cannot be read in region {region}: {exc}") from None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))[1:]
