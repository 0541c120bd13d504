"""Whether a call session belongs to the operator of the peer that names it.

A switch names its sessions (Acct-Session-Id, Diameter Session-Id) and charging knows
a session by that name alone. Without this check a RADIUS client or Diameter peer bound
to operator B could update or stop operator A's session by its id, and have A's caller
charged the duration B reports. A door asks :meth:`SessionScope.allows` before an
update or a stop, and tells it :meth:`SessionScope.remember` after a start it made.

What it costs: nothing for a session started through this door on this node (it is
remembered at its start); else the session's account (charging's cache: one read by
key when cold) and whether that account lies in the operator's subtree (the accounts'
short cache: one read by key when cold). A yes is remembered, bounded (a
``cachetools.LRUCache``): a session never changes account and an account never
changes operator. An unknown session is allowed: charging answers ``unknown_session``,
or the RADIUS door starts it late under the peer's own operator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache

from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import root_path
from voxbill.domain.errors import NotFound

#: ``owns(operator_id, account_id)``: whether the account is in the operator's subtree.
Owns = Callable[[int, int], bool]


class SessionScope:
    """Thread-safe (the doors' workers call it)."""

    def __init__(
        self,
        session_account: Callable[[str], int | None],
        owns: Owns,
        *,
        size: int = 100_000,
    ) -> None:
        self._session_account = session_account
        self._owns = owns
        self._known: LRUCache[tuple[str, int], bool] = LRUCache(size)
        self._lock = threading.Lock()

    def remember(self, session_id: str, operator_id: int | None) -> None:
        """A session this operator's peer just started (or replayed) through the door."""
        if operator_id is None:
            return
        key = (session_id, operator_id)
        with self._lock:
            self._known[key] = True

    def allows(self, session_id: str, operator_id: int | None) -> bool:
        """False only for a session that exists and belongs to another operator."""
        if operator_id is None:
            return True  # an unbound door (tests over fakes): nothing to scope by
        with self._lock:
            if self._known.get((session_id, operator_id)):  # a hit is the most recent again
                return True
        account_id = self._session_account(session_id)
        if account_id is None:
            return True
        if not self._owns(operator_id, account_id):
            return False
        self.remember(session_id, operator_id)
        return True


def open_scope() -> SessionScope:
    """A scope that allows every session (unit tests over fake charging services)."""
    return SessionScope(lambda _session: None, lambda _operator, _account: True)


def scope_of(container: Any) -> SessionScope:
    """The scope over a container's charging (sessions) and accounts (subtrees)."""

    def owns(operator_id: int, account_id: int) -> bool:
        principal = Principal(operator_id, root_path(operator_id), Role.ADMIN)
        try:
            container.accounts.visible_recently(principal, account_id)
        except NotFound:
            return False
        return True

    return SessionScope(container.charging.session_account, owns)
