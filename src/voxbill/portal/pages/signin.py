"""Signing in and out: email and password, or a calling card's number and PIN."""

from __future__ import annotations

import secrets

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.deps import container_of
from voxbill.domain.errors import SignInThrottled, Unauthorized
from voxbill.portal.pages.common import (
    OptionalText,
    client_address,
    page_router,
)
from voxbill.portal.web import (
    COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    Writer,
    error_page,
    render,
    set_session_cookie,
)

router = page_router()


def _login_page(
    request: Request, *, message: str | None = None, status_code: int = 200
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    page = render(
        request, "login.html", {"login_csrf": token, "message": message}, status_code=status_code
    )
    page.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="lax", path=PREFIX)
    return page


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    csrf_token: OptionalText = None,
    email: OptionalText = None,
    password: OptionalText = None,
    card: OptionalText = None,
    pin: OptionalText = None,
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or not csrf_token or not secrets.compare_digest(expected, csrf_token):
        return error_page(request, 403, "The sign-in form was stale: reload it and try again.")
    portal = container_of(request).portal
    try:
        if card:
            signed = portal.sign_in_card(card, pin or "", client_address(request))
        else:
            signed = portal.sign_in(email or "", password or "", client_address(request))
    except SignInThrottled:
        raise
    except Unauthorized as exc:
        return _login_page(request, message=exc.message, status_code=401)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    set_session_cookie(response, request, signed.token)
    return response


@router.post("/logout")
def logout(request: Request, visitor: Writer) -> Response:
    container_of(request).portal.sign_out(request.cookies.get(COOKIE))
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response
