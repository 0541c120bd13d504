"""The web portal's sign-ins: server-side sessions, their expiry, and login throttling.

A session is a random token (the cookie), stored only as its sha256, bound to the
account and role it acts as (a portal user's, or a calling card's signed in with its
number and PIN as a ``user``) and to a CSRF secret for its forms. It ends after
``portal_idle_seconds`` without a request, ``portal_session_seconds`` after sign-in
whatever happens, at sign-out, or when its user is disabled or its account closed.

Throttling: failed sign-ins are counted per email (or card number) and per client
address (the API keys' counters, :mod:`voxbill.services.access.failures`, with the
portal's own limit and window); over the limit, sign-in is refused there without
checking the password until the window ends. A card's PIN also goes through the
card's own guess budgets (:mod:`voxbill.services.access.card_pins`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from voxbill.domain.access import PortalSession, Principal, Role
from voxbill.domain.accounts import AccountStatus
from voxbill.domain.errors import PinRefused, SignInThrottled, Unauthorized
from voxbill.services.access.failures import AuthFailures
from voxbill.services.access.identifiers import IdentifierService
from voxbill.services.access.keys import AuthService
from voxbill.services.unit_of_work import UnitOfWork
from voxbill.settings import Settings

#: the failure counters' keys, apart from the API's (which are bare addresses)
_EMAIL = "portal:email:"
_ADDRESS = "portal:addr:"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str  # the cookie's value: the only time it is seen
    session: PortalSession


class PortalSessions:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        *,
        auth: AuthService,
        identifiers: IdentifierService,
        failures: AuthFailures,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow
        self._auth = auth
        self._identifiers = identifiers
        self._failures = failures
        self._idle = timedelta(seconds=settings.portal_idle_seconds)
        self._lifetime = timedelta(seconds=settings.portal_session_seconds)
        #: the instant expiries are measured by (tests move it)
        self.clock = clock
        #: how stale the stored last-seen time may get (a write at most this often)
        self.touch_every = min(timedelta(seconds=60), self._idle / 10)

    # -- signing in ----------------------------------------------------------------------

    def _throttle(self, who: str, source: str) -> None:
        wait = max(
            self._failures.blocked_for(_EMAIL + who), self._failures.blocked_for(_ADDRESS + source)
        )
        if wait > 0:
            raise SignInThrottled(
                "too many failed sign-ins lately: try again later", retry_after=wait
            )

    def _failed(self, who: str, source: str) -> None:
        self._failures.failed(_EMAIL + who)
        self._failures.failed(_ADDRESS + source)

    def sign_in(self, email: str, password: str, source: str) -> SignedIn:
        """A portal user's sign-in; :class:`Unauthorized` (the same for every failure) or
        :class:`SignInThrottled`."""
        who = email.strip().lower()[:254]
        self._throttle(who, source)
        try:
            principal, user_id = self._auth.portal_login(who, password)
        except Unauthorized:
            self._failed(who, source)
            raise
        return self._open(principal, user_id, who)

    def sign_in_card(self, card: str, pin: str, source: str) -> SignedIn:
        """A calling card's holder, with its number and PIN (the card's guess budgets
        apply, the client address being the asker)."""
        number = card.strip()[:64]
        self._throttle(number, source)
        try:
            found = self._identifiers.identify(
                card=number, pin=pin, asker=f"portal:{source}", usable_only=False
            )
        except PinRefused:
            self._failed(number, source)
            raise Unauthorized("wrong card number or PIN") from None
        if found is None:
            self._failed(number, source)
            raise Unauthorized("wrong card number or PIN")
        principal = Principal(found.account_id, found.path, Role.USER)
        return self._open(principal, None, f"card …{number[-4:]}")

    def _open(self, principal: Principal, user_id: int | None, label: str) -> SignedIn:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._uow.transaction() as tx:
            tx.access.insert_session(
                token_hash=_digest(token),
                user_id=user_id,
                account_id=principal.account_id,
                role=principal.role,
                label=label,
                csrf_secret=secrets.token_urlsafe(32),
                now=now,
                expires_at=now + self._lifetime,
            )
            tx.access.delete_expired_sessions(now)
            session = tx.access.session_by_hash(_digest(token))
        assert session is not None
        return SignedIn(token, session)

    # -- each request --------------------------------------------------------------------

    def session(self, token: str | None) -> PortalSession | None:
        """The live session of ``token``, or None: unknown, signed out, idle too long,
        past its lifetime, its user disabled or its account (or one above) closed. An
        ended session is deleted. Its last-seen time is written at most every
        ``touch_every`` (a read per page, not a write; the idle expiry is as precise)."""
        if not token or len(token) > 100:
            return None
        now = self.clock()
        with self._uow.transaction(readonly=True) as tx:
            found = tx.access.session_by_hash(_digest(token))
        if found is None:
            return None
        ended = (
            now >= found.expires_at
            or now - found.last_seen_at >= self._idle
            or found.status is AccountStatus.CLOSED
        )
        if ended:
            with self._uow.transaction() as tx:
                tx.access.delete_session(found.id)
            return None
        if now - found.last_seen_at >= self.touch_every:
            with self._uow.transaction() as tx:
                tx.access.touch_session(found.id, now)
        return found

    def sign_out(self, token: str | None) -> None:
        if not token or len(token) > 100:
            return
        with self._uow.transaction() as tx:
            found = tx.access.session_by_hash(_digest(token))
            if found is not None:
                tx.access.delete_session(found.id)


def csrf_token(session: PortalSession) -> str:
    """The token every form of the session carries (derived from its secret)."""
    return hmac.new(session.csrf_secret.encode(), b"csrf", hashlib.sha256).hexdigest()


def csrf_valid(session: PortalSession, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(session), presented)
