"""What every portal page shares: templates, the signed-in visitor, CSRF, error pages."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from voxbill.api.deps import container_of, in_thread
from voxbill.domain.access import PortalSession, Role
from voxbill.domain.errors import Forbidden, SignInThrottled, VoxbillError
from voxbill.domain.money import canonical
from voxbill.outcomes import http_status_for
from voxbill.services.access.portal import csrf_token, csrf_valid

PREFIX = "/portal"
#: the session cookie (HttpOnly, SameSite=Lax, Secure when ``portal_secure_cookie``)
COOKIE = "voxbill_session"
#: the sign-in form's own CSRF cookie (double submit: no session exists yet)
LOGIN_COOKIE = "voxbill_login_csrf"
CSRF_FIELD = "csrf_token"
_VISITOR = "voxbill.portal.visitor"

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _money(value: Decimal | None) -> str:
    """At least two decimals for people (12.50), every decimal there is (0.0125)."""
    if value is None:
        return ""
    text = canonical(value)
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


templates.env.filters["money"] = _money


class SignInRequired(Exception):
    """No live session: the visitor is sent to the sign-in page."""


class CsrfRefused(Exception):
    """A form posted without its session's CSRF token: 403, nothing done."""


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    visitor: PortalSession | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    values = {"visitor": visitor, "csrf": csrf_token(visitor) if visitor else "", **context}
    values["Role"] = Role
    return templates.TemplateResponse(request, name, values, status_code=status_code)


def error_page(
    request: Request,
    status: int,
    message: str,
    visitor: PortalSession | None = None,
    code: str | None = None,
) -> HTMLResponse:
    """A refusal's page: its message, and its code (the API's ``code``) when it has one."""
    return render(
        request,
        "error.html",
        {"status": status, "message": message, "code": code},
        visitor=visitor,
        status_code=status,
    )


class PortalRoute(APIRoute):
    """Refusals as HTML pages (not problem+json): 404 for what is outside the visitor's
    subtree, 403 for a write it may not make or a bad CSRF token, 422 for a parameter
    that does not parse, the error table's status for the rest; no session: to the
    sign-in page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return RedirectResponse(f"{PREFIX}/login", status_code=303)
            except CsrfRefused:
                message = "The form was stale or forged: nothing was done."
                return error_page(request, 403, message, request.scope.get(_VISITOR))
            except SignInThrottled as exc:
                page = error_page(request, 429, exc.message)
                page.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
                return page
            except VoxbillError as exc:
                status = http_status_for(exc)
                visitor = request.scope.get(_VISITOR)
                return error_page(request, status, exc.message, visitor, exc.code)
            except RequestValidationError as exc:
                return error_page(request, 422, _invalid(exc), request.scope.get(_VISITOR))

        return guarded


def _invalid(exc: RequestValidationError) -> str:
    """The first refused parameter, as the API's problem says it ("after_id: …")."""
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
        return f"{where}: {error.get('msg', 'invalid')}"
    return "invalid request"


def _visitor(request: Request) -> PortalSession:
    session = container_of(request).portal.session(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired()
    request.scope[_VISITOR] = session  # for the error pages' header
    return session


async def _writer(request: Request) -> PortalSession:
    """The visitor of a form post, whose CSRF token must be its session's (checked
    before anything else is read or done). A support sign-in is read-only: every write
    route refuses it here, before its form is read, whatever the route's own rules say."""
    session = await in_thread(lambda: _visitor(request))
    form = await request.form()
    presented = form.get(CSRF_FIELD)
    if not csrf_valid(session, presented if isinstance(presented, str) else None):
        raise CsrfRefused()
    if session.principal.role is Role.SUPPORT:
        raise Forbidden("a support sign-in is read-only: nothing was done")
    return session


Visitor = Annotated[PortalSession, Depends(_visitor)]
Writer = Annotated[PortalSession, Depends(_writer)]


def new_form_key() -> str:
    """A fresh idempotency key for a money form: posting it twice moves money once."""
    return f"portal-{secrets.token_urlsafe(16)}"


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=container_of(request).settings.portal_secure_cookie,
        path=PREFIX,
    )


def actor_of(visitor: PortalSession) -> str:
    """Who a portal write is recorded as (the ledger's and the change records' actor)."""
    return f"portal:{visitor.label}@account:{visitor.principal.account_id}"
