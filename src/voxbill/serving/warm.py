"""Work on the event loop only when it cannot wait: the "warm" case.

A switch's ``authorize`` on SQLite is a few cached lookups and one local read of a
fraction of a millisecond; handing it to a thread costs more than the work (a thread
switch each way, and GIL hand-overs that add milliseconds to the tail). Inside
:func:`only_warm`, everything that could wait refuses instead of waiting, by raising
:class:`Cold`: a cache miss or expiry (it would read the database), a rate plan's version
check or load, any write, a read on PostgreSQL (a network round trip) or on an in-memory
SQLite database; a read on a file SQLite database goes through the database's own
loop-reader connection (never the shared pool, whose connections writers may hold). The
caller then does the same work off the loop, as it would have anyway; nothing was
changed, since everything that could have been was refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_only_warm: ContextVar[bool] = ContextVar("voxbill_only_warm", default=False)


class Cold(Exception):
    """The work would wait (a load, a lock, a round trip): do it off the event loop."""


@contextmanager
def only_warm() -> Iterator[None]:
    """Within: whatever would wait raises :class:`Cold` instead."""
    token = _only_warm.set(True)
    try:
        yield
    finally:
        _only_warm.reset(token)


def active() -> bool:
    return _only_warm.get()


def require_warm(what: str) -> None:
    """Raise :class:`Cold` (naming ``what`` would have waited) inside :func:`only_warm`."""
    if _only_warm.get():
        raise Cold(what)
