"""The read side of charging: what a session reported, whose it is, and CDR pages.

:class:`~voxbill.services.charging.service.ChargingService` extends it with the steps; the
caches it owns (accounts' chains, sessions' accounts) are shared with them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from voxbill.domain import dashboard
from voxbill.domain.access import Principal
from voxbill.domain.cdrs import Cdr
from voxbill.domain.dashboard import Margin, TrafficPoint
from voxbill.domain.errors import InvalidInput
from voxbill.services.caching import TtlCache
from voxbill.services.charging.chains import ChainCache
from voxbill.services.unit_of_work import Transaction, UnitOfWork
from voxbill.settings import Settings


class ChargingQueries:
    """Reads over call sessions and CDRs; never writes."""

    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self._uow = uow
        self._settings = settings
        self._chains = ChainCache(uow, settings.hot_cache_seconds)
        #: session id -> caller's account: a fact that never changes, kept for tenancy checks
        self._session_accounts: TtlCache[str, int | None] = TtlCache(3600.0)
        #: dashboards' day aggregates, by (what, path, window)
        self._figures: TtlCache[tuple[object, ...], Any] = TtlCache(
            settings.dashboard_cache_seconds, max_entries=10_000
        )

    def session_usage(self, session_id: str) -> int | None:
        """The last usage a session reported (seconds since its start), or None."""
        with self._uow.transaction(readonly=True) as tx:
            found = tx.sessions.session(session_id, lock=False)
        return None if found is None else found.used_seconds

    def session_account(self, session_id: str) -> int | None:
        """The caller's account of a session (doors check tenancy with it), or None."""

        def load() -> int | None:
            with self._uow.transaction(readonly=True) as tx:
                found = tx.sessions.session(session_id, lock=False)
            return None if found is None else found.account_id

        found = self._session_accounts.get(session_id, load)
        if found is None:
            self._session_accounts.forget(session_id)  # it may start any moment
        return found

    def forget_accounts(self) -> None:
        """An account changed on this node: authorize reads its chain afresh."""
        self._chains.clear()

    def cdrs(
        self,
        path: str,
        *,
        started_from: datetime | None = None,
        started_to: datetime | None = None,
        number: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Cdr]:
        """CDRs of the subtree at ``path``, newest first; ``number``: a callee prefix or
        the caller, in digits."""
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        digits = None
        if number:
            digits = "".join(c for c in number if c.isdigit())
            if not digits:
                raise InvalidInput("number: digits expected")
        with self._uow.transaction(readonly=True) as tx:
            return tx.cdrs.page(
                path=path,
                started_from=started_from,
                started_to=started_to,
                number=digits,
                before_id=before_id,
                limit=limit,
            )

    def calls_up(self, principal: Principal) -> int:
        """How many calls are up now in the principal's subtree (open sessions)."""
        dashboard.require_overseer(principal)
        with self._uow.transaction(readonly=True) as tx:
            return tx.sessions.open_sessions_under(principal.path)

    def traffic(self, principal: Principal, start: datetime, end: datetime) -> list[TrafficPoint]:
        """Calls and spend per minute (UTC) and currency of the principal's subtree's
        CDRs started in [start, end) (at most 7 days), oldest first; minutes without
        calls are left out. Served for ``dashboard_cache_seconds`` from memory."""
        dashboard.require_overseer(principal)
        dashboard.check_window(start, end)

        def load() -> list[TrafficPoint]:
            with self._uow.transaction(readonly=True) as tx:
                return tx.cdrs.traffic(
                    account_id=principal.account_id,
                    path=principal.path,
                    rolled=_rolled(tx, principal),
                    start=start,
                    end=end,
                )

        found: list[TrafficPoint] = self._figures.get(("traffic", principal.path, start, end), load)
        return found

    def margins(self, principal: Principal, start: datetime, end: datetime) -> list[Margin]:
        """What the principal's account earned per currency on its subtree's CDRs
        started in [start, end): an operator, what its top-most paying level paid minus
        the vendor cost; a reseller, what the level below paid it minus its own cost.
        Served for ``dashboard_cache_seconds`` from memory."""
        dashboard.require_overseer(principal)
        dashboard.check_window(start, end)

        def load() -> list[Margin]:
            with self._uow.transaction(readonly=True) as tx:
                return tx.cdrs.margins(
                    account_id=principal.account_id,
                    path=principal.path,
                    root=dashboard.is_root(principal),
                    rolled=_rolled(tx, principal),
                    start=start,
                    end=end,
                )

        found: list[Margin] = self._figures.get(("margins", principal.path, start, end), load)
        return found


def _rolled(tx: Transaction, principal: Principal) -> bool:
    """Whether the roll-up keeps minutes for the principal's account (an operator's or
    a reseller's; a customer's support reads its CDRs)."""
    account = tx.accounts.get(principal.account_id)
    return account is not None and account.kind in dashboard.ROLLED_KINDS
