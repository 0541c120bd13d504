"""The card + PIN of an accepted card call, carried to accounting in ``Class``.

Accounting-Requests carry no User-Password (RFC 2866), yet charging identifies a card
caller by card number *and* PIN. So the Access-Accept of a card call returns a
``Class`` attribute (RFC 2865 §5.25: the NAS echoes it, unchanged, in the call's
accounting) holding the card number and the PIN hidden as User-Password is (MD5 of the
shared secret and a random salt), with an HMAC tag. Stateless: any voxbill node that
shares the client's secret reads it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final

_MAGIC: Final = b"vbx1"
_SALT: Final = 16
_TAG: Final = 8
_PIN_BLOCK: Final = 16


def _pad(secret: bytes, salt: bytes) -> bytes:
    return hashlib.md5(secret + salt).digest()


def _tag(secret: bytes, card: bytes, pin: bytes) -> bytes:
    return hmac.new(secret, _MAGIC + card + b"\x00" + pin, "sha256").digest()[:_TAG]


def seal(card: str, pin: str, secret: bytes) -> bytes | None:
    """The Class value for a card call, or ``None`` if the values do not fit."""
    card_bytes, pin_bytes = card.encode(), pin.encode()
    if len(pin_bytes) > _PIN_BLOCK or len(card_bytes) > 64:
        return None
    salt = os.urandom(_SALT)
    hidden = bytes(
        a ^ b for a, b in zip(pin_bytes.ljust(_PIN_BLOCK, b"\x00"), _pad(secret, salt), strict=True)
    )
    return (
        _MAGIC
        + bytes([len(card_bytes)])
        + card_bytes
        + salt
        + hidden
        + _tag(secret, card_bytes, pin_bytes)
    )


def unseal(value: bytes, secret: bytes) -> tuple[str, str] | None:
    """(card, PIN) from a Class value voxbill sealed with this secret, else ``None``."""
    if not value.startswith(_MAGIC) or len(value) < len(_MAGIC) + 1:
        return None
    size = value[len(_MAGIC)]
    card = value[len(_MAGIC) + 1 : len(_MAGIC) + 1 + size]
    rest = value[len(_MAGIC) + 1 + size :]
    if len(card) != size or len(rest) != _SALT + _PIN_BLOCK + _TAG:
        return None
    salt, hidden, tag = rest[:_SALT], rest[_SALT:-_TAG], rest[-_TAG:]
    pin = bytes(a ^ b for a, b in zip(hidden, _pad(secret, salt), strict=True)).rstrip(b"\x00")
    if not hmac.compare_digest(tag, _tag(secret, card, pin)):
        return None
    try:
        return card.decode(), pin.decode()
    except UnicodeDecodeError:
        return None
