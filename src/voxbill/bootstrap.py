"""Wires concrete adapters into services. Only this module knows them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from voxbill.domain.notify import Backoff, Channel, allowed_hosts
from voxbill.services.access.failures import AuthFailures
from voxbill.services.access.identifiers import IdentifierService
from voxbill.services.access.keys import AuthService
from voxbill.services.access.portal import PortalSessions
from voxbill.services.access.resets import PasswordResets
from voxbill.services.accounts.service import AccountService
from voxbill.services.cards.service import CardService
from voxbill.services.charging.high_risk import HighRiskDestinations
from voxbill.services.charging.rollup import DashboardRollup
from voxbill.services.charging.service import ChargingService
from voxbill.services.ledger.service import LedgerService
from voxbill.services.messaging.rate_limit import RateLimiter
from voxbill.services.messaging.service import MessagingService
from voxbill.services.notify.branding import TemplateService
from voxbill.services.notify.channels import Channels
from voxbill.services.notify.delivery import DeliveryWorker
from voxbill.services.notify.subscriptions import SubscriptionService
from voxbill.services.payments.service import PaymentService
from voxbill.services.ports.payments import PaymentProvider
from voxbill.services.rating.catalog import RatePlanCatalog
from voxbill.services.rating.imports import RateImportService
from voxbill.services.rating.reseller_plans import ResellerPlans
from voxbill.services.rating.service import RatingService
from voxbill.services.routing.service import RoutingService
from voxbill.services.unit_of_work import UnitOfWork
from voxbill.settings import Settings
from voxbill.storage.access.redis_failures import make_auth_failures
from voxbill.storage.database import Database, make_engine
from voxbill.storage.messaging.redis_rate_limit import make_rate_limiter
from voxbill.storage.migrate import current_revision, upgrade
from voxbill.storage.unit_of_work import SqlUnitOfWork


@dataclass
class Container:
    """Everything a door (API, CLI, protocol listener) needs, built once per process."""

    settings: Settings
    db: Database
    #: messages-per-second buckets; default from settings (Redis when VOXBILL_REDIS_URL)
    rate_limiter: RateLimiter | None = None
    #: failed API keys per source address (Redis when VOXBILL_REDIS_URL, else in process)
    auth_failures: AuthFailures | None = None
    #: failed portal sign-ins per email and per address (as ``auth_failures``)
    portal_failures: AuthFailures | None = None
    #: payment providers by name (default: Stripe, from the settings; see payment_providers)
    payment_providers: Mapping[str, PaymentProvider] | None = None
    #: the one way services reach storage
    uow: UnitOfWork = field(init=False)
    rating: RatingService = field(init=False)
    rate_import: RateImportService = field(init=False)
    ledger: LedgerService = field(init=False)
    accounts: AccountService = field(init=False)
    auth: AuthService = field(init=False)
    identifiers: IdentifierService = field(init=False)
    rate_plans: RatePlanCatalog = field(init=False)
    reseller_plans: ResellerPlans = field(init=False)
    charging: ChargingService = field(init=False)
    dashboard_rollup: DashboardRollup = field(init=False)
    high_risk: HighRiskDestinations = field(init=False)
    messaging: MessagingService = field(init=False)
    routing: RoutingService = field(init=False)
    #: notification channels; default the real ones from settings (tests pass fakes)
    channels: Channels | None = None
    notify: DeliveryWorker = field(init=False)
    subscriptions: SubscriptionService = field(init=False)
    notify_templates: TemplateService = field(init=False)
    cards: CardService = field(init=False)

    payments: PaymentService = field(init=False)
    portal: PortalSessions = field(init=False)
    password_resets: PasswordResets = field(init=False)

    def __post_init__(self) -> None:
        self.uow = SqlUnitOfWork(self.db)
        self.rating = RatingService(self.uow, self.settings)
        self.rate_import = RateImportService(self.uow, on_change=self.rating.forget)
        self.ledger = LedgerService(self.uow, self.settings)
        self.accounts = AccountService(
            self.uow,
            funds_of=self.ledger.balance,
            cache_seconds=self.settings.hot_cache_seconds,
            on_change=self._accounts_changed,
        )
        self.auth = AuthService(self.uow, cache_seconds=self.settings.hot_cache_seconds)
        if self.auth_failures is None:
            self.auth_failures = make_auth_failures(self.settings)
        self.identifiers = IdentifierService(self.uow, self.settings)
        self.rate_plans = RatePlanCatalog(self.uow, self.rate_import)
        self.reseller_plans = ResellerPlans(self.uow, self.rate_plans, self.rating.forget)
        self.charging = ChargingService(
            self.uow,
            self.settings,
            rating=self.rating,
            ledger=self.ledger,
            identifiers=self.identifiers,
        )
        self.high_risk = HighRiskDestinations(self.uow, self.charging.fraud)
        self.dashboard_rollup = DashboardRollup(
            self.uow, self.settings.dashboard_rollup_lag_seconds
        )
        self.routing = RoutingService(
            self.uow,
            self.settings,
            rating=self.rating,
            identifiers=self.identifiers,
            fx_rate=self.ledger.fx_rate,
        )
        self.cards = CardService(
            self.uow,
            ledger=self.ledger,
            identifiers=self.identifiers,
            on_change=self._accounts_changed,
        )
        limiter = self.rate_limiter or make_rate_limiter(self.settings)
        self.rate_limiter = limiter
        self.messaging = MessagingService(
            self.uow,
            rating=self.rating,
            identifiers=self.identifiers,
            ledger=self.ledger,
            limiter=limiter,
        )

        if self.channels is None:
            self.channels = make_channels(self.settings)
        self.notify = make_worker(self.uow, self.channels, self.settings)
        self.subscriptions = SubscriptionService(self.uow, self.channels)
        self.notify_templates = TemplateService(self.uow)

        self.payments = PaymentService(
            self.uow,
            self.ledger,
            self.settings,
            self.payment_providers
            if self.payment_providers is not None
            else payment_providers(self.settings),
        )

        if self.portal_failures is None:
            self.portal_failures = make_auth_failures(
                self.settings,
                self.settings.portal_login_limit,
                self.settings.portal_login_window_seconds,
            )
        self.portal = PortalSessions(
            self.uow,
            self.settings,
            auth=self.auth,
            identifiers=self.identifiers,
            failures=self.portal_failures,
        )
        self.password_resets = PasswordResets(
            self.uow, self.settings, failures=self.portal_failures, notifier=lambda: self.notify
        )

    def _accounts_changed(self) -> None:
        """An account written on this node: its caches forget at once (others: TTL)."""
        self.auth.forget_all()
        self.charging.forget_accounts()
        self.identifiers.forget()

    def close(self) -> None:
        close_limiter = getattr(self.rate_limiter, "close", None)
        if close_limiter is not None:
            close_limiter()
        for failures in (self.auth_failures, self.portal_failures):
            close_failures = getattr(failures, "close", None)
            if close_failures is not None:
                close_failures()
        for channel in (self.channels or {}).values():
            close_channel = getattr(channel, "close", None)
            if close_channel is not None:
                close_channel()
        self.db.dispose()


def make_channels(settings: Settings) -> Channels:
    # imported here: the senders' libraries (httpx, smtplib) load when the channels are made
    from voxbill.gateways.notify import SmsGatewaySender, SmtpSender, WebhookSender

    timeout = settings.notify_timeout_seconds
    return {
        Channel.EMAIL: SmtpSender(settings.smtp_url, settings.mail_from, timeout_seconds=timeout),
        Channel.SMS: SmsGatewaySender(
            settings.sms_gateway_url, settings.sms_from, timeout_seconds=timeout
        ),
        Channel.WEBHOOK: WebhookSender(
            allowed_hosts(settings.webhook_allow_hosts), timeout_seconds=timeout
        ),
    }


def make_worker(uow: UnitOfWork, channels: Channels, settings: Settings) -> DeliveryWorker:
    """The delivery worker; it claims as many deliveries per lease as it can surely
    send within half the lease (each may take the whole timeout)."""
    lease = settings.notify_lease_seconds
    return DeliveryWorker(
        uow,
        channels,
        backoff=Backoff(
            settings.notify_max_attempts,
            settings.notify_retry_seconds,
            settings.notify_retry_max_seconds,
        ),
        lease=timedelta(seconds=lease),
        claim_batch=max(1, int(lease / (2 * settings.notify_timeout_seconds))),
        mail_from=settings.mail_from,
    )


def payment_providers(settings: Settings) -> dict[str, PaymentProvider]:
    """The providers the settings configure (Stripe when its secret key or its webhook
    secret is set); a second provider is one more entry here."""
    found: dict[str, PaymentProvider] = {}
    key, webhook = settings.stripe_secret_key, settings.stripe_webhook_secret
    if key is not None or webhook is not None:
        # imported here: the stripe library loads only where it is configured
        from voxbill.gateways.stripe_provider import StripeProvider

        found["stripe"] = StripeProvider(
            key.get_secret_value() if key is not None else None,
            webhook.get_secret_value() if webhook is not None else None,
            tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
        )
    return found


def build(settings: Settings | None = None, *, migrate: bool = False) -> Container:
    settings = settings or Settings()
    engine = make_engine(settings.database_url, lock_timeout_seconds=settings.lock_timeout_seconds)
    if migrate:
        upgrade(engine)
    database = Database(engine, lock_timeout_seconds=settings.lock_timeout_seconds)
    return Container(settings=settings, db=database)


def schema_revision(container: Container) -> str | None:
    """The database's schema revision (None: never migrated), for ``voxbill db``."""
    return current_revision(container.db.engine)
