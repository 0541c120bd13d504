"""One validated settings object, read from ``VOXBILL_*`` environment variables."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'voxbill.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOXBILL_", env_file=None, extra="ignore")

    #: SQLAlchemy URL; default an SQLite file in the working directory.
    database_url: str = Field(default_factory=default_database_url)
    #: Shared counters (message rate limits) across nodes, when set.
    redis_url: str | None = None
    #: Longest call ever granted, in seconds.
    max_call_duration: int = Field(default=4 * 3600, ge=1, le=86400)
    #: Seconds an API key, caller identifier or account chain may be served from a
    #: node's memory (a revocation, move or block reaches the hot path within it;
    #: balances and counters are always read fresh). 0 disables these caches.
    hot_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    #: Seconds a dashboard's day aggregates (traffic, margin, low balances of a subtree)
    #: may be served from a node's memory: many visitors refreshing a dashboard read a
    #: day of CDRs once per this interval. 0 disables it.
    dashboard_cache_seconds: float = Field(default=10.0, ge=0, le=300)
    #: The dashboard's per-minute roll-up: ``voxbill serve`` adds the CDRs written at
    #: least this long ago every ``dashboard_rollup_interval_seconds`` (0: no pass in
    #: serve; ``voxbill dashboard rollup`` runs one). The figures are exact either way
    #: (the CDRs the pass has not reached are read directly); the pass makes them cheap.
    dashboard_rollup_lag_seconds: float = Field(default=60.0, ge=0, le=3600)
    dashboard_rollup_interval_seconds: float = Field(default=30.0, ge=0, le=3600)
    #: Seconds a database lock may be waited for before the request fails cleanly.
    lock_timeout_seconds: float = Field(default=5.0, gt=0)
    #: Dialling prefix for international numbers (stripped during normalization).
    international_prefix: str = "00"
    #: ISO country used to read national-format numbers, if any.
    default_region: str | None = None
    #: Seconds granted per chunk to sessions that send interim updates.
    grant_chunk_seconds: int = Field(default=300, ge=1, le=86400)
    #: The longest grant of a call without interim updates (a SIP redirect, a RADIUS NAS
    #: without interim accounting, a REST start without ``interim``) that draws on a
    #: balance shared by several accounts, when no account of its chain below the
    #: operator root sets a ``max_call_duration``: one call never holds the whole shared
    #: balance (docs/charging.md, "Shared balances"). 0: no such default.
    shared_balance_call_cap_seconds: int = Field(default=3600, ge=0, le=86400)
    #: How far (seconds, either way) from the server's clock an admin key may set a call's
    #: start over HTTP; other keys always get the server's time.
    call_start_skew_seconds: int = Field(default=300, ge=0, le=86400)
    #: Charging steps (start, update, stop, sweep) that arrive while another batch is
    #: being written share ONE transaction and commit, each in its own savepoint (group
    #: commit): at most this many per batch; 1 turns group commit off.
    commit_group_limit: int = Field(default=64, ge=1, le=1000)
    #: Seconds a session's hold outlives its grant before the sweeper may settle it.
    hold_expiry_slack_seconds: int = Field(default=60, ge=0, le=86400)
    #: What the sweeper charges a session that never stopped and never reported usage:
    #: "nothing" (the default: a switch that never confirms a call — a forged or lost
    #: INVITE, a NAS without accounting — must not cost the caller its grant) or "grant"
    #: (its whole grant). A session that reported usage is always charged its last
    #: report. Accepted from before issue 12: "usage" (= "nothing"), "auto" (= "grant").
    sweeper_settle_at: Literal["nothing", "grant", "usage", "auto"] = "nothing"
    #: Velocity alerts (docs/charging.md, "Fraud guard"): a minute whose calls or granted
    #: cost exceed this many times the account's average per minute over the window
    #: before it writes one ``fraud.velocity`` outbox event; 0 turns them off.
    velocity_factor: Decimal = Field(default=Decimal(10), ge=0, le=1_000_000)
    #: ...unless the minute has fewer calls than this and a smaller granted cost than
    #: ``velocity_min_spend`` (in the account's currency): a quiet account's second call
    #: is no alert.
    velocity_min_calls: int = Field(default=20, ge=1, le=1_000_000)
    velocity_min_spend: Decimal = Field(default=Decimal(50), gt=0, le=10**12)
    #: Minutes the norm averages (the window before the minute).
    velocity_window_minutes: int = Field(default=60, ge=1, le=10080)
    #: Seconds between sweeper runs in ``voxbill serve``; 0 disables the sweeper there.
    sweeper_interval_seconds: float = Field(default=5.0, ge=0)
    #: Least-cost routing's sell-below-cost guard: a vendor whose buy rate exceeds the
    #: sell rate * (1 - min_margin) is skipped (0: never sell below cost).
    min_margin: Decimal = Field(default=Decimal(0), ge=0, lt=1)
    #: SIP redirect server port (UDP and TCP) in ``voxbill serve``; None: not started.
    sip_port: int | None = Field(default=None, ge=1, le=65535)
    #: Seconds a vendor snapshot (targets, statuses, outbound funds) is reused by routing.
    routing_recheck_seconds: float = Field(default=1.0, ge=0)
    #: Who may ask the SIP door: "127.0.0.1/32,10.1.0.0/16=OPERATOR_ID" (networks, each
    #: bound to an operator root; with a single operator the id may be left out).
    #: Empty: loopback only. Anyone else gets no answer (``protocols/peers.py``). A peer
    #: that routes for itself adds ";authorize-only" ("10.1.0.0/16=7;authorize-only"):
    #: its INVITEs are charged and answered with a 302 to their own Request-URI.
    sip_peers: str = ""
    #: Who may connect to the Diameter door, in the same form as ``sip_peers``.
    diameter_peers: str = ""
    #: Origin-Hosts a Diameter peer may name in its CER ("pgw1.example.net,ocs-client");
    #: empty: any, from an allowed address. Others get CEA 3010 and are disconnected.
    diameter_peer_hosts: str = ""
    #: Stream doors (SIP over TCP, Diameter): connections at once, per source address,
    #: and seconds a connection may stay idle (``protocols/connections.py``).
    stream_max_connections: int = Field(default=1024, ge=1, le=100_000)
    stream_max_per_source: int = Field(default=64, ge=1, le=100_000)
    stream_idle_timeout_seconds: float = Field(default=120.0, gt=0, le=86400)
    #: RADIUS auth port (accounting on the next port) in ``voxbill serve``; None: off.
    radius_port: int | None = Field(default=None, ge=1, le=65534)
    #: RADIUS clients, their secrets and operators: "127.0.0.1/32=secret,10.1.0.0/16=
    #: other@OPERATOR_ID" (the last "@digits" of a secret names the operator; with a
    #: single operator it may be left out). See ``protocols/radius/clients.py``.
    radius_clients: str = ""
    #: Client networks (each one of ``radius_clients``') whose Access-Requests may omit
    #: Message-Authenticator; empty: every Access-Request must carry a valid one.
    radius_unsigned_clients: str = ""
    #: Diameter Gy port (TCP) in ``voxbill serve``; None: not started.
    diameter_port: int | None = Field(default=None, ge=1, le=65535)
    #: Address the Diameter listener binds to.
    diameter_host: str = "127.0.0.1"
    #: Origin-Host / Origin-Realm voxbill answers with (what peers configure for it).
    diameter_origin_host: str = "voxbill.localdomain"
    diameter_origin_realm: str = "localdomain"
    #: Deprecated: the operator of the Diameter peers that name none (``diameter_peers``
    #: items without ``=OPERATOR_ID``) instead of the sole operator.
    diameter_operator_id: int | None = None
    #: Calling cards (``domain/card_pins.py``): wrong PINs in a row that lock a card; the
    #: first lockout in seconds, doubled at each further one until a right PIN, capped;
    #: wrong PINs one asker (API key, NAS) may send over every card within the window.
    pin_max_failures: int = Field(default=5, ge=1, le=100)
    pin_lockout_seconds: int = Field(default=300, ge=1, le=30 * 86400)
    pin_lockout_max_seconds: int = Field(default=86400, ge=1, le=365 * 86400)
    pin_asker_max_failures: int = Field(default=20, ge=1, le=100_000)
    pin_asker_window_seconds: int = Field(default=600, ge=1, le=86400)
    #: PIN verifications (argon2id) at once on this node, how many more may wait for one,
    #: and how many one asker may have in flight; beyond: refused ``pin_busy`` at once.
    pin_verify_concurrency: int = Field(default=2, ge=1, le=64)
    pin_verify_queue: int = Field(default=8, ge=0, le=1000)
    pin_asker_in_flight: int = Field(default=2, ge=1, le=1000)
    #: the plain cases of ``POST /calls/authorize``, ``/calls`` (start) and
    #: ``/calls/{id}/update`` answered before FastAPI's routing, with the same bytes
    #: (``api/fast_lane/``; each measured to save ≥ 15 % of server CPU per request, see
    #: docs/benchmarks.md); false: every request through the route.
    fast_lane: bool = True
    #: HTTP request bodies, in bytes: any route, and a rate deck upload (at most the deck
    #: route's own 64 MiB); more is 413, whether sent with a length or chunked.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_deck_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: HTTP: seconds a request's head (request line and headers) may take to arrive, its
    #: size, seconds a body may pause between two reads, seconds an idle keep-alive
    #: connection is kept, connections at once and per source address (``api/http_server.py``).
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    http_max_header_bytes: int = Field(default=64 * 1024, ge=4096, le=1024 * 1024)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    http_keep_alive_seconds: float = Field(default=5.0, gt=0, le=3600)
    http_max_connections: int = Field(default=1024, ge=1, le=100_000)
    http_max_per_source: int = Field(default=256, ge=1, le=100_000)
    #: Failed API-key attempts one source address may make in ``auth_failure_window_seconds``
    #: before it gets 429 (keys unchecked) until the window ends; shared through Redis
    #: when ``redis_url`` is set, else counted per process.
    auth_failure_limit: int = Field(default=20, ge=1, le=1_000_000)
    auth_failure_window_seconds: float = Field(default=60.0, gt=0, le=86400)
    #: The web portal (docs/portal.md): a session ends after ``portal_idle_seconds``
    #: without a request, and ``portal_session_seconds`` after sign-in whatever happens;
    #: its cookie is ``Secure`` when ``portal_secure_cookie`` (serve it over https).
    portal_idle_seconds: float = Field(default=1800.0, gt=0, le=7 * 86400)
    portal_session_seconds: float = Field(default=43200.0, gt=0, le=30 * 86400)
    portal_secure_cookie: bool = False
    #: Failed portal sign-ins per email (or card) and per client address within
    #: ``portal_login_window_seconds`` before sign-in is refused there until it ends.
    portal_login_limit: int = Field(default=5, ge=1, le=1_000_000)
    portal_login_window_seconds: float = Field(default=900.0, gt=0, le=86400)
    #: The portal's public address (``https://billing.example.com``): the base of the
    #: password reset links it emails (never the request's Host header, which a visitor
    #: chooses). Unset: no password reset by email. A link works for
    #: ``portal_reset_seconds``, once.
    portal_url: str | None = None
    portal_reset_seconds: float = Field(default=3600.0, gt=0, le=7 * 86400)
    #: Notifications (docs/notifications.md): the SMTP server as a URL (``smtp://host:25``,
    #: ``smtp+starttls://user:pass@host:587``, ``smtps://user:pass@host:465``), the
    #: address emails come from, the SMS gateway (an HTTP POST of ``{"to", "from",
    #: "text"}``) and the sender it is given, and the webhook hosts that may be private or
    #: loopback ("hooks.internal,127.0.0.1"); every other private target is refused.
    smtp_url: str | None = None
    mail_from: str = "voxbill@localhost"
    sms_gateway_url: str | None = None
    sms_from: str = "voxbill"
    webhook_allow_hosts: str = ""
    #: Seconds between delivery runs in ``voxbill serve`` (0: no worker there); attempts
    #: before a delivery is dead; the first retry's delay in seconds (doubled at each
    #: further failure, capped, plus up to 20 % jitter); a claim's lease in seconds (a
    #: worker killed mid-send: another sends again after it); one send's timeout.
    notify_interval_seconds: float = Field(default=5.0, ge=0)
    notify_max_attempts: int = Field(default=8, ge=1, le=100)
    notify_retry_seconds: float = Field(default=30.0, gt=0, le=86400)
    notify_retry_max_seconds: float = Field(default=6 * 3600.0, gt=0, le=7 * 86400)
    notify_lease_seconds: float = Field(default=120.0, gt=0, le=86400)
    notify_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: Online top-ups through Stripe (docs/payments.md): the secret API key (sk_…) and
    #: the webhook endpoint's signing secret (whsec_…); without them checkouts are refused
    #: (503 payments_not_configured) and webhooks answered 400. Events older than the
    #: tolerance (seconds) are refused. Where the payer lands after paying or cancelling
    #: ("{payment_id}" is replaced); how long a checkout stays open (Stripe: 30 to 1440).
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    payments_success_url: str | None = None
    payments_cancel_url: str | None = None
    payments_checkout_minutes: int = Field(default=60, ge=30, le=1440)
    host: str = "127.0.0.1"
    port: int = 8080
    environment: str = "development"

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, value: str) -> str:
        """``postgresql://`` means psycopg 3, the driver voxbill ships with."""
        for plain in ("postgresql://", "postgres://"):
            if value.startswith(plain):
                return "postgresql+psycopg://" + value[len(plain) :]
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str | None) -> str | None:
        """One of the three forms the SMTP channel knows (docs/notifications.md)."""
        if value and not value.startswith(("smtp://", "smtps://", "smtp+starttls://")):
            raise ValueError("VOXBILL_SMTP_URL is smtp://, smtps:// or smtp+starttls://host[:port]")
        return value or None

    @field_validator("portal_url")
    @classmethod
    def _portal_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("VOXBILL_PORTAL_URL is an http:// or https:// address")
        return value.rstrip("/") if value else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
