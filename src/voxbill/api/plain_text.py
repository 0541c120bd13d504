"""No NUL in any request string: PostgreSQL cannot store it, so it is refused at the door.

One request-level check instead of a validator on every string field (a field added
later is covered too). JSON can only carry NUL as the escape ``\\u0000``; an odd run of
backslashes before it is that escape, an even one is an escaped backslash followed by
the text "u0000". Rate deck bodies (CSV) are checked cell by cell by the deck reader,
which can name the line.
"""

from __future__ import annotations

import re

from fastapi import Request

from voxbill.domain.errors import InvalidInput

_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _refuse(where: str) -> InvalidInput:
    return InvalidInput(f"{where}: NUL characters are not allowed")


async def refuse_nul(request: Request) -> None:
    """A dependency of every route; FastAPI has read (and cached) the body already."""
    scope = request.scope
    if "\x00" in scope["path"] or "\x00" in scope.get("root_path", ""):
        raise _refuse("path")
    # a decoded query has NUL only from a raw NUL or a %00: parse it only then
    query = scope.get("query_string", b"")
    if (b"\x00" in query or b"%00" in query) and any(
        "\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()
    ):
        raise _refuse("query")
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    content_type = request.headers.get("content-type", "")
    if "json" in content_type and _JSON_NUL.search(await request.body()):
        raise _refuse("body")
