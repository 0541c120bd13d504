"""A strict, small SIP request parser (RFC 3261 §7) for what a redirect server reads.

It keeps the header lines a response must copy (Via, From, To, Call-ID, CSeq) verbatim,
and reads the few values voxbill needs (Request-URI user, From / P-Asserted-Identity
user, Via branch, CSeq). Anything it does not understand is a :class:`SipParseError`,
which says whether enough was read to answer ``400 Bad Request``. Never a crash: every
failure of a hostile input is that one error type.

Lines end at CRLF only, and a line may hold no other control character than HTAB: a
bare LF or CR, a NUL, an escape… is refused (issue 10, finding 1). Other SIP stacks
(Kamailio among them) also end a line at a bare LF, so such a value would read there as
headers of the sender's choosing; copied into our response, a ``From`` holding
``\nContact: <sip:premium@attacker>`` became a route. A refused request is answered
400 from its clean lines only, and not at all when a line a response must copy is the
tainted one (or when it is a response: never answer one, or two servers answer each
other forever).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

MAX_MESSAGE: Final = 65_535
MAX_HEADERS: Final = 100
COMPACT: Final = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
}
#: Headers a response copies from its request (RFC 3261 §8.2.6.2).
ECHOED: Final = ("via", "from", "to", "call-id", "cseq")
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
#: What no header line (nor the request line) may hold once cut at CRLF: every C0
#: control but HTAB (a bare CR or LF among them), and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: A header line of a head that is not UTF-8 is copied only when it is plain ASCII.
_NOT_ASCII = re.compile(r"[^\t\x20-\x7e]")
_BLANK = " \t"
_URI_USER = re.compile(r"^(?:sips?|tel):([^@;?>]*)")
_BRANCH = re.compile(r";\s*branch\s*=\s*([^;,\s]+)", re.IGNORECASE)


class SipParseError(ValueError):
    """Not a SIP request voxbill can handle; ``partial`` holds what was read, if any."""

    def __init__(self, message: str, partial: SipRequest | None = None) -> None:
        super().__init__(message)
        self.partial = partial

    @property
    def answerable(self) -> bool:
        """Enough was read to send a response (RFC 3261 §8.2.6: Via, Call-ID, CSeq)."""
        partial = self.partial
        return partial is not None and partial.answerable and partial.method != "ACK"


@dataclass
class SipRequest:
    method: str
    uri: str
    #: (lower-case canonical name, raw value) in arrival order
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def first(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def answerable(self) -> bool:
        return bool(self.values("via")) and bool(self.first("call-id")) and bool(self.cseq_text)

    @property
    def cseq_text(self) -> str | None:
        return self.first("cseq")

    @property
    def call_id(self) -> str:
        return self.first("call-id") or ""

    @property
    def branch(self) -> str:
        """The top Via's branch parameter ('' when absent: an RFC 2543 client)."""
        vias = self.values("via")
        found = _BRANCH.search(vias[0]) if vias else None
        return found.group(1) if found else ""

    @property
    def cseq(self) -> tuple[int, str]:
        text = self.cseq_text or ""
        number, _, method = text.partition(" ")
        method = method.strip(_BLANK)
        if not _digits(number, 10) or not _TOKEN.fullmatch(method):
            raise SipParseError("bad CSeq", self)
        return int(number), method

    @property
    def callee(self) -> str:
        """The Request-URI's user part: the dialled number."""
        return uri_user(self.uri)

    @property
    def caller(self) -> str | None:
        """The asserted caller: P-Asserted-Identity's user, else From's (None: neither)."""
        for name in ("p-asserted-identity", "from"):
            value = self.first(name)
            if value:
                user = uri_user(address_uri(value))
                if user:
                    return user
        return None

    @property
    def from_user(self) -> str | None:
        value = self.first("from")
        return (uri_user(address_uri(value)) or None) if value else None


def address_uri(value: str) -> str:
    """The URI of a name-addr (``"A" <sip:a@b>;tag=1``) or addr-spec (``sip:a@b;tag=1``)."""
    start = value.find("<")
    if start >= 0:
        end = value.find(">", start)
        return value[start + 1 : end] if end > start else ""
    return value.split(";", 1)[0].strip()


def uri_user(uri: str) -> str:
    """``sip:+4420@host;x`` → ``+4420``; ``tel:+4420;npdi`` → ``+4420``; else ''."""
    found = _URI_USER.match(uri.strip())
    if found is None:
        return ""
    user = found.group(1)
    return "" if "@" not in uri and not uri.startswith("tel:") else user


def _lines(head: str) -> list[str]:
    """Header lines with folded continuations (leading SP/HT) joined (RFC 3261 §7.3.1)."""
    lines: list[str] = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip(_BLANK)
        else:
            lines.append(line)
    return lines


def parse_request(data: bytes) -> SipRequest:
    """A complete request (one datagram, or one framed TCP message); else SipParseError.

    Responses (``SIP/2.0 …`` status lines) are errors too: a redirect server sends no
    requests, so it never expects one.
    """
    if len(data) > MAX_MESSAGE:
        raise SipParseError("message too large")
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        raise SipParseError("no end of headers")
    try:
        text = head.decode("utf-8").lstrip("\r\n")
    except UnicodeDecodeError:
        partial = _salvage(head.decode("latin-1").lstrip("\r\n"), _NOT_ASCII)
        raise SipParseError("headers are not UTF-8", partial) from None
    if _tainted(text):
        raise SipParseError("a control character in a line", _salvage(text, _CONTROL))
    request = _read(text)
    length = request.first("content-length")
    if length is not None:
        if not _digits(length, 10) or int(length) > len(body):
            raise SipParseError("bad Content-Length", request)
        body = body[: int(length)]
    request.body = body
    return request


def _tainted(head: str) -> bool:
    """Does a line of ``head`` hold a control character (CRLF ends a line)? A plain
    head is settled by ``isprintable`` (a few microseconds: a regular expression with
    look-arounds over the head took ten times that); HTAB or other non-printable text
    gets the control-character scan."""
    flat = head.replace("\r\n", "")
    return not flat.isprintable() and _CONTROL.search(flat) is not None


def _digits(text: str, most: int) -> bool:
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


def _read(text: str) -> SipRequest:
    lines = _lines(text)
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] != "SIP/2.0" or not _TOKEN.fullmatch(parts[0]):
        raise SipParseError("not a SIP/2.0 request line", _salvage(text))
    request = SipRequest(parts[0], parts[1])
    if len(lines) - 1 > MAX_HEADERS:
        raise SipParseError("too many headers")
    bad = None
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        name = name.strip(_BLANK).lower()
        if not colon or not _TOKEN.fullmatch(name):
            bad = bad or f"bad header line {line[:40]!r}"
            continue
        request.headers.append((COMPACT.get(name, name), value.strip(_BLANK)))
    if bad is not None:
        raise SipParseError(bad, request)
    _check(request)
    return request


def _salvage(text: str, tainted: re.Pattern[str] | None = None) -> SipRequest | None:
    """What a refused request still lets us answer 400 to: its well-formed header lines
    that ``tainted`` does not match. None (send nothing) when a line a response must
    copy is tainted (it cannot be copied, and a response without it is no answer),
    when the clean lines lack Via, Call-ID or CSeq, or when it is a response."""
    lines = _lines(text)
    if len(lines) - 1 > MAX_HEADERS:
        return None
    first = lines[0].split(" ", 1)[0]
    if first.startswith("SIP/"):
        return None
    salvaged = SipRequest(first if _TOKEN.fullmatch(first) else "", "")
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if tainted is not None and tainted.search(line):
            named = tainted.sub("", name).strip(_BLANK).lower()
            if COMPACT.get(named, named) in ECHOED:
                return None
            continue
        name = name.strip(_BLANK).lower()
        if colon and _TOKEN.fullmatch(name):
            salvaged.headers.append((COMPACT.get(name, name), value.strip(_BLANK)))
    return salvaged if salvaged.answerable else None


def _check(request: SipRequest) -> None:
    for name in ("via", "from", "to", "call-id", "cseq"):
        if not request.first(name):
            raise SipParseError(f"missing {name}", request)
    for name in ("from", "to", "call-id", "cseq"):
        if len(request.values(name)) > 1:
            raise SipParseError(f"more than one {name}", request)
    number, method = request.cseq
    if method != request.method:
        raise SipParseError("CSeq method differs from the request method", request)
    if not request.uri or " " in request.uri or ":" not in request.uri:
        raise SipParseError("bad Request-URI", request)
    del number


def frame(buffer: bytearray) -> bytes | None:
    """Cut one message off a TCP stream buffer by its Content-Length (RFC 3261 §18.3);
    None until complete. Leading CRLF keep-alives are dropped. Raises SipParseError
    when the stream cannot be framed (the connection is then closed)."""
    while buffer[:2] == b"\r\n":
        del buffer[:2]
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_MESSAGE:
            raise SipParseError("headers too large")
        return None
    length = _content_length(bytes(buffer[:end]))
    total = end + 4 + length
    if total > MAX_MESSAGE:
        raise SipParseError("message too large")
    if len(buffer) < total:
        return None
    message = bytes(buffer[:total])
    del buffer[:total]
    return message


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in (b"content-length", b"l"):
            digits = value.strip()
            if not digits.isdigit() or len(digits) > 6:
                raise SipParseError("bad Content-Length")
            return int(digits)
    raise SipParseError("a stream message needs a Content-Length")
