"""Values from the wire, made safe for one log line.

A Call-ID, Acct-Session-Id, User-Name or Origin-Host is chosen by whoever sent it; put
into a log line as is, a newline in it starts a forged line of the attacker's choosing
(issue 10, finding 19). :func:`printable` escapes every character that is not printable
as ``repr`` does (``\\n``, ``\\x1b``, ``\\u2028``) and cuts long values, so one value is
one line, readable, and bounded. Hand-written: ``repr`` already knows the escapes.
"""

from __future__ import annotations


def printable(value: str, limit: int = 200) -> str:
    """``value`` on one line: control and other non-printable characters escaped like
    ``repr`` does, at most ``limit`` characters of it kept (``...`` marks a cut)."""
    cut = len(value) > limit
    text = value[:limit] if cut else value
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text + "..." if cut else text
