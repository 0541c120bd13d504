"""The FastAPI application: routers under ``/api/v1`` over the container's services."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from voxbill import __version__
from voxbill.api import fast_lane, guard, problems
from voxbill.api.deps import ContainerDep
from voxbill.api.plain_text import refuse_nul
from voxbill.api.routers import (
    accounts,
    calls,
    cards,
    cdrs,
    dashboard,
    fraud,
    fx,
    money,
    notifications,
    payments,
    portal_users,
    rate_plans,
    rating,
    sms,
    vendors,
)
from voxbill.api.schemas import Health
from voxbill.bootstrap import Container

API_PREFIX = "/api/v1"


def create_app(
    container: Container,
    *,
    extra_public: frozenset[str] = frozenset(),
    open_prefixes: tuple[str, ...] = (),
) -> FastAPI:
    """``extra_public``, ``open_prefixes``: more paths that need no API key (the portal's own
    sign-in, :mod:`voxbill.portal`)."""
    app = FastAPI(
        title="voxbill",
        version=__version__,
        description="Real-time rating, charging and balance control for voice and SMS.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        dependencies=[Depends(refuse_nul)],
    )
    app.state.container = container
    problems.install(app)

    @app.get(f"{API_PREFIX}/health", response_model=Health, tags=["health"])
    def health(container: ContainerDep) -> Health:
        container.db.ping()
        return Health(status="ok", database=container.db.dialect, version=__version__)

    # Routes are matched in order, one by one: the switches' endpoints (calls, SMS)
    # come first. No path of one router is a path of another, so the order changes
    # nothing else.
    app.include_router(calls.router, prefix=API_PREFIX)
    app.include_router(sms.router, prefix=API_PREFIX)
    app.include_router(rating.router, prefix=API_PREFIX)
    app.include_router(accounts.router, prefix=API_PREFIX)
    app.include_router(money.router, prefix=API_PREFIX)
    app.include_router(rate_plans.router, prefix=API_PREFIX)
    app.include_router(vendors.router, prefix=API_PREFIX)
    app.include_router(cdrs.router, prefix=API_PREFIX)
    app.include_router(dashboard.router, prefix=API_PREFIX)
    app.include_router(fx.router, prefix=API_PREFIX)
    app.include_router(notifications.router, prefix=API_PREFIX)
    app.include_router(cards.router, prefix=API_PREFIX)
    app.include_router(fraud.router, prefix=API_PREFIX)
    app.include_router(payments.router, prefix=API_PREFIX)
    app.include_router(portal_users.router, prefix=API_PREFIX)
    fast_lane.install(app, container)
    public = {f"{API_PREFIX}/health", app.openapi_url, app.docs_url, *extra_public}
    public.add(f"{API_PREFIX}{payments.STRIPE_WEBHOOK}")  # signed by Stripe, no API key
    public.add(app.swagger_ui_oauth2_redirect_url)
    guard.install(app, container, API_PREFIX, frozenset(p for p in public if p), open_prefixes)
    return app
