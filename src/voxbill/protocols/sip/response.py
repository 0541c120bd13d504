"""Responses to a request (RFC 3261 §8.2.6): status line, the copied headers, extras.

Via (all of them, in order), From, Call-ID and CSeq are copied verbatim; To gets a tag
when it has none (derived from Call-ID and branch, so a retransmission's answer is
identical); the top Via gets ``received``/``rport`` when the client asked (RFC 3581).

No value can end a line early: the parser refuses requests whose lines hold a control
character, and whatever reaches this module anyway (a request built by hand, an extra
header made from data: X-Voxbill values, a Contact from a vendor's target) is checked
once per response and stripped of every control character (CR and LF among them) before
it is sent. One ``isprintable`` pass over the response (a regular expression only when
it holds a tab or other non-printable text); the stripping never runs for a parsed
request and well-formed extras.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from voxbill.protocols.sip.message import SipRequest

SERVER = "voxbill"
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"
_TAG = re.compile(r";\s*tag\s*=", re.IGNORECASE)
_RPORT = re.compile(r";\s*rport(?=\s*(;|,|$))", re.IGNORECASE)
#: C0 controls (HTAB allowed) and DEL: what no response line may hold.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def to_tag(request: SipRequest) -> str:
    seed = f"{request.call_id}\x00{request.branch}".encode("utf-8", "replace")
    return hashlib.blake2s(seed, digest_size=6).hexdigest()


def _top_via(via: str, source: tuple[str, int] | None) -> str:
    """Fill an empty ``rport`` with the source port and add ``received`` (RFC 3581)."""
    if source is None or not _RPORT.search(via):
        return via
    host, port = source
    first, sep, rest = via.partition(",")  # a header may hold several Via values
    first = _RPORT.sub(f";received={host};rport={port}", first, count=1)
    return first + sep + rest


def build(
    request: SipRequest,
    status: int,
    phrase: str,
    extra: Iterable[tuple[str, str]] = (),
    *,
    source: tuple[str, int] | None = None,
) -> bytes:
    """The response bytes; ``extra`` headers follow the copied ones."""
    lines = [f"SIP/2.0 {status} {phrase}"]
    first_via = True
    for name, value in request.headers:
        if name == "via":
            if first_via:
                value = _top_via(value, source)
                first_via = False
            lines.append(f"Via: {value}")
    for name, label in (("from", "From"), ("to", "To"), ("call-id", "Call-ID")):
        copied = request.first(name)
        if copied is None:
            continue
        if name == "to" and status > 100 and not _TAG.search(copied):
            copied = f"{copied};tag={to_tag(request)}"
        lines.append(f"{label}: {copied}")
    cseq = request.first("cseq")
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines.append(f"Server: {SERVER}")
    lines.extend(f"{name}: {value}" for name, value in extra)
    lines.append("Content-Length: 0")
    flat = "".join(lines)
    if not flat.isprintable() and _CONTROL.search(flat):  # never for a parsed request
        lines = [_CONTROL.sub("", line) for line in lines]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
