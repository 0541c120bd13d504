"""Password reset by emailed link: "Forgot password?" on the portal's sign-in page.

Asking names an email address; the answer is the same whether a portal user has it or
not (no account enumeration), and asking is throttled like signing in: every request
counts, per email and per client address, with the portal's sign-in limit and window.
When an active portal user has the address, a random token is made, stored only as its
sha256 with the user and an expiry (``portal_reset_seconds``, an hour by default), and
a link ``{portal_url}/portal/reset/{token}`` is emailed through the notification
service's email channel (the ``portal.password_reset`` template). The base is the
configured ``portal_url``, never the request's Host header (which the asker chooses).

The link's page sets a new password (argon2id), ends every session of the user, and
uses up the token and any other outstanding one of the user, in one transaction: a
link works once, and not after its expiry.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from voxbill.domain.accounts import AccountStatus
from voxbill.domain.errors import SignInThrottled
from voxbill.services.access.failures import AuthFailures
from voxbill.services.access.keys import hash_password
from voxbill.services.notify.delivery import DeliveryWorker
from voxbill.services.unit_of_work import UnitOfWork
from voxbill.settings import Settings

#: the throttle counters' keys (apart from the sign-in ones)
_EMAIL = "portal:reset:email:"
_ADDRESS = "portal:reset:addr:"
RESET_EVENT = "portal.password_reset"
#: the path of a reset link under the portal's public address
RESET_PATH = "/portal/reset/"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PendingEmail:
    """A reset link to send (after the answer went out: its timing says nothing)."""

    email: str
    account_id: int
    link: str
    minutes: int


class PasswordResets:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        *,
        failures: AuthFailures,
        notifier: Callable[[], DeliveryWorker],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow
        self._settings = settings
        self._failures = failures
        self._notifier = notifier
        self._lifetime = timedelta(seconds=settings.portal_reset_seconds)
        #: the instant expiries are measured by (tests move it)
        self.clock = clock

    @property
    def enabled(self) -> bool:
        """Whether reset links can be made (the portal's public address is set)."""
        return self._settings.portal_url is not None

    def request(self, email: str, source: str) -> PendingEmail | None:
        """A reset link for the portal user with ``email``, to send; None when there is
        none (or it is disabled, or its account closed) — the asker is told the same
        either way. :class:`SignInThrottled` over the limit."""
        who = email.strip().lower()[:254]
        wait = max(
            self._failures.blocked_for(_EMAIL + who),
            self._failures.blocked_for(_ADDRESS + source),
        )
        if wait > 0:
            raise SignInThrottled(
                "too many password reset requests lately: try again later", retry_after=wait
            )
        self._failures.failed(_EMAIL + who)
        self._failures.failed(_ADDRESS + source)
        base = self._settings.portal_url
        if base is None or "@" not in who:
            return None
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._uow.transaction() as tx:
            user = tx.access.portal_user_by_email(who)
            account = None if user is None else tx.accounts.get(user.account_id)
            if user is None or user.disabled or account is None:
                return None
            if account.status is AccountStatus.CLOSED:
                return None
            tx.access.insert_password_reset(
                token_hash=_digest(token), user_id=user.id, now=now, expires_at=now + self._lifetime
            )
        minutes = max(1, int(self._lifetime.total_seconds() // 60))
        return PendingEmail(user.email, user.account_id, f"{base}{RESET_PATH}{token}", minutes)

    def send(self, pending: PendingEmail) -> str | None:
        """Email the link (the error text when it could not be sent, else None)."""
        data = {"email": pending.email, "link": pending.link, "minutes": pending.minutes}
        return self._notifier().send_now(RESET_EVENT, pending.email, data, pending.account_id)

    def usable(self, token: str) -> bool:
        """Whether ``token`` is a reset link that still works."""
        if not token or len(token) > 100:
            return False
        with self._uow.transaction(readonly=True) as tx:
            found = tx.access.password_reset_by_hash(_digest(token))
        return found is not None and found.usable(self.clock())

    def complete(self, token: str, password: str) -> bool:
        """Set the new password of the link's user, end the user's sessions and use the
        link up; False (nothing changed) when the link is unknown, used or expired.
        A password under 10 characters is refused (422) and leaves the link usable."""
        hashed = hash_password(password)
        if not token or len(token) > 100:
            return False
        now = self.clock()
        with self._uow.transaction() as tx:
            found = tx.access.password_reset_by_hash(_digest(token), for_update=True)
            if found is None or not found.usable(now):
                return False
            user = tx.access.portal_user(found.user_id)
            if user is None or user.disabled:
                return False
            tx.access.set_password_hash(user.id, hashed)
            tx.access.delete_sessions_of(user.id)
            tx.access.use_password_resets_of(user.id, now)
        return True
