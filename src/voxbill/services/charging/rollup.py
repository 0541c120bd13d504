"""The dashboard's per-minute roll-up (docs/portal.md, "Dashboard and charts").

A pass adds to ``dashboard_minutes`` the CDRs with ids above its mark and at or below its
horizon: the newest CDR written at least ``dashboard_rollup_lag_seconds`` ago, so every
transaction that took a smaller id has committed (ids are taken in order, commits are
not). It runs in ``voxbill serve`` beside the sweeper and from ``voxbill dashboard
rollup``; nodes running it at once take turns on the mark's row lock, so each CDR is
added once. A late stop's correction of a CDR already rolled up moves its minute rows by
the difference in its own transaction (holding the mark against a pass).

The dashboard's reads add the CDRs above the mark to the rolled-up minutes in one
statement: exact whether or not a pass ever ran, cheap once it has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from voxbill.domain.cdrs import Cdr, CdrLeg
from voxbill.domain.dashboard import (
    ROLLED_KINDS,
    RolledCdr,
    Rollup,
    contributions,
    path_ids,
    without_noughts,
)
from voxbill.services.unit_of_work import Transaction, UnitOfWork

#: CDRs read and added per transaction
BATCH = 20_000

Progress = Callable[[int, int], None]


class DashboardRollup:
    def __init__(self, uow: UnitOfWork, lag_seconds: float) -> None:
        self._uow = uow
        self._lag = timedelta(seconds=lag_seconds)

    def run_once(
        self,
        now: datetime | None = None,
        *,
        batch: int = BATCH,
        progress: Progress | None = None,
    ) -> int:
        """Add the CDRs settled up to the horizon; how many. ``progress(done, total)``
        after each batch (the CLI's bar)."""
        at = now or datetime.now(UTC)
        done, start = 0, None
        while True:
            with self._uow.transaction() as tx:
                mark = tx.cdrs.lock_rollup_mark()
                horizon = tx.cdrs.settled_before(at - self._lag)
                found = tx.cdrs.rolled_cdrs(mark, horizon, batch) if horizon > mark else []
                rollup: Rollup = {}
                for cdr in found:
                    contributions(cdr, rollup)
                tx.cdrs.add_rollup(without_noughts(rollup))
                if found:
                    tx.cdrs.set_rollup_mark(found[-1].id, at)
            done += len(found)
            if progress is not None:  # by ids: (how far, how far to go) from the first mark
                start = mark if start is None else start
                reached = found[-1].id if len(found) == batch else max(horizon, mark)
                progress(reached - start, max(horizon, mark) - start)
            if len(found) < batch:
                return done

    def rebuild(self, now: datetime | None = None, *, progress: Progress | None = None) -> int:
        """Forget the roll-up and add every CDR again (after a restore, say)."""
        with self._uow.transaction() as tx:
            tx.cdrs.lock_rollup_mark()
            tx.cdrs.clear_rollup()
        return self.run_once(now, progress=progress)


def corrected(tx: Transaction, was: Cdr, was_legs: Sequence[CdrLeg], now: Cdr) -> None:
    """A late stop corrected CDR ``was.id`` to ``now``: if a pass rolled it up already,
    its minute rows take the difference (its old contributions out, the new in); else
    the pass will read the corrected CDR. The mark is held against a pass meanwhile."""
    if was.id > tx.cdrs.share_rollup_mark():
        return
    path = tx.cdrs.cdr_path(was.id)
    if path is None:
        return
    ids = path_ids(path)
    facts = tx.cdrs.accounts_of(ids)
    rolled = tuple(i for i in ids if i in facts and facts[i][0] in ROLLED_KINDS)
    payer = facts[ids[1]][1] if len(ids) > 1 and ids[1] in facts else None
    rollup: Rollup = {}
    contributions(_rolled(was, was_legs, path, rolled, payer), rollup, sign=-1)
    contributions(_rolled(now, now.legs, path, rolled, payer), rollup)
    tx.cdrs.add_rollup(without_noughts(rollup))


def _rolled(
    cdr: Cdr, legs: Sequence[CdrLeg], path: str, rolled: tuple[int, ...], payer: str | None
) -> RolledCdr:
    return RolledCdr(
        id=cdr.id,
        path=path,
        rolled=rolled,
        started_at=cdr.started_at,
        currency=cdr.currency,
        cost=cdr.cost,
        margin=cdr.margin,
        payer_currency=payer,
        sell_margins=tuple(
            (leg.account_id, leg.currency, leg.margin)
            for leg in legs
            if leg.side == "sell" and leg.margin is not None and leg.account_id in rolled
        ),
    )
