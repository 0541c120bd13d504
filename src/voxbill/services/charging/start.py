"""Starting a call: the session opened, the concurrency counted and the grant held at every
level, all inside the step's one transaction (or the first grant replayed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from voxbill.domain import charging as rules
from voxbill.domain.accounts import Account
from voxbill.domain.charging import Reason, SessionStatus
from voxbill.domain.charging_decision import Sources, TariffOf, evaluate
from voxbill.domain.errors import InsufficientFunds, SessionConflict
from voxbill.domain.holds import HoldRequest
from voxbill.domain.sessions import ChargingSession, SessionLevel
from voxbill.domain.tariff_snapshot import freeze
from voxbill.services.charging import fraud, partners, vendor
from voxbill.services.charging.answers import authorization, started_grant
from voxbill.services.charging.callers import caller_text
from voxbill.services.charging.chains import ChainCache
from voxbill.services.charging.results import CallerId, ChargingRefused, SessionGrant, refusal
from voxbill.services.charging.settle import available
from voxbill.services.ledger import holds_close as ledger_holds
from voxbill.services.ledger.journal import Journal
from voxbill.settings import Settings

#: Ledger holds outlive their session by this much, so the sweeper (which charges) always
#: reaches a session before the ledger's own expiry (which only releases) could.
HOLD_BACKSTOP = timedelta(hours=1)


def start_in(
    journal: Journal,
    session_id: str,
    account_id: int,
    caller: CallerId,
    number: str,
    start: datetime,
    interim: bool,
    vendor_id: int | None,
    *,
    chains: ChainCache,
    tariff_of: TariffOf,
    settings: Settings,
    clock: Callable[[], datetime],
    guard: fraud.FraudGuard,
) -> SessionGrant:
    """The start step inside its transaction (see :meth:`ChargingService.start`)."""
    sessions = journal.tx.sessions
    # statuses and limits as they are now, locked: a block or a lower limit committed
    # meanwhile is seen, and none commits before this start does; unless the session
    # exists already (a start sent again)
    ancestors = chains.ancestors(account_id)
    chain = sessions.chain_unless_started(session_id, account_id, ancestors=ancestors)
    if chain is None:
        existing = sessions.session(session_id, lock=False)
        assert existing is not None  # sessions are never deleted
        stored = rules.CallKey(
            existing.account_id, existing.callee, existing.interim, existing.vendor_id
        )
        if stored != rules.CallKey(account_id, number, interim, vendor_id):
            raise SessionConflict(
                f"session id {session_id!r} belongs to another call; use a new id"
            )
        return started_grant(journal, existing)
    if not chain:
        raise ChargingRefused(refusal(Reason.UNKNOWN_CALLER))
    chains.remember(account_id, chain)
    journal.know_owners(rules.owners_of(chain))
    vendor_plan = vendor_tariff = None
    if vendor_id is not None:
        vendor_plan, bought = vendor.vendor_plan(
            journal.tx, vendor_id, chain, number, start, tariff_of
        )
        vendor_tariff = freeze(bought)
    journal.lock([journal.account_book(a.id) for a in funded(chain)])
    ev = evaluate(
        chain,
        number,
        start,
        tariff_of=tariff_of,
        sources=Sources(
            book_of=lambda a: journal.account_book(a.id),
            funds_of_book=journal.funds,
            open_calls=sessions.lock_counters,
            outbound_of=partners.outbound_of(journal.tx),
        ),
        system_max=settings.max_call_duration,
        # one chunk at a time with interim updates; else at most the (shared) cap
        shared_default=None if interim else settings.shared_balance_call_cap_seconds,
    )
    ev, caps = guard.check(journal.tx, ev, number, start, lock=True)  # after the balances
    answer = authorization(ev, account_id)
    if not ev.allowed:
        raise ChargingRefused(answer, f"call refused: {ev.detail}")
    chunk = settings.grant_chunk_seconds
    granted = min(chunk, ev.max_duration) if interim else ev.max_duration
    expires_at = clock() + timedelta(seconds=granted + settings.hold_expiry_slack_seconds)
    requests = [
        HoldRequest(level.account.id, rules.hold_amount(tariff.cost(granted)))
        for level, tariff in zip(ev.levels, ev.tariffs, strict=True)
    ]
    checked = ledger_holds.validate_requests(session_id, requests, expires_at)
    try:
        ledger_holds.place_quietly(journal, session_id, checked, expires_at + HOLD_BACKSTOP)
    except InsufficientFunds as exc:
        refused = refusal(Reason.INSUFFICIENT_FUNDS, account_id)
        raise ChargingRefused(refused, f"call refused: {exc.message}") from exc
    if ev.counted:
        sessions.add_open_calls(ev.counted, +1)
    now = journal.now
    spend = guard.started(journal.tx, journal.owner(account_id), ev, caps, start, granted, now)
    sessions.insert_session(
        ChargingSession(
            session_id=session_id,
            account_id=account_id,
            caller=caller_text(caller),
            callee=number,
            interim=interim,
            status=SessionStatus.OPEN,
            started_at=start,
            cap=ev.cap,
            max_duration=ev.max_duration,
            granted_seconds=granted,
            used_seconds=0,
            request_number=None,
            levels=tuple(
                SessionLevel(
                    account_id=level.account.id,
                    plan=level.plan,
                    rate=tariff.row.rate,
                    currency=level.account.currency,
                    max_cost=level.max_cost,
                    tariff=freeze(tariff),
                    seller_id=level.seller_id,
                    spend=spend.get(level.index, ()),
                )
                for level, tariff in zip(ev.levels, ev.tariffs, strict=True)
            ),
            counted=tuple(ev.counted),
            vendor_id=vendor_id,
            vendor_plan=vendor_plan,
            vendor_tariff=vendor_tariff,
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
    )
    return SessionGrant(
        session_id=session_id,
        account_id=account_id,
        granted_seconds=granted,
        max_duration=ev.max_duration,
        rate=answer.rate or Decimal(0),
        currency=answer.currency or ev.levels[0].account.currency,
        balance=answer.balance if answer.balance is not None else available(journal, account_id),
        expires_at=expires_at,
        final=granted >= ev.max_duration,
        levels=answer.levels,
    )


def funded(chain: Sequence[Account]) -> list[Account]:
    """Accounts whose balance a decision reads: payers, cutoff partners, low-balance limits."""
    payers = {level.account.id for level in rules.levels(chain)}
    return [
        a
        for a in chain
        if a.id in payers
        or a.balance.cutoff_mode.value in ("inbound", "mutual")
        or a.limits.low_balance_concurrent_calls is not None
    ]
