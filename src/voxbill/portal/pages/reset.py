"""Password reset by emailed link (docs/portal.md, "Password reset"): "Forgot
password?" asks for an email and always answers the same; the link's page sets a new
password once. No session exists yet: the forms carry the sign-in form's CSRF token
(double submit, as the sign-in form does)."""

from __future__ import annotations

import secrets

from fastapi import BackgroundTasks, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from voxbill.api.deps import container_of
from voxbill.domain.errors import InvalidInput
from voxbill.portal.pages.common import OptionalText, client_address, page_router
from voxbill.portal.web import LOGIN_COOKIE, PREFIX, error_page, render

router = page_router()

NEUTRAL = (
    "If a portal user has this email address, a link to choose a new password is on its"
    " way. It works once, for a limited time. Nothing arrived? Check the spam folder, or"
    " ask whoever manages your account."
)
NOT_SET_UP = (
    "Password reset by email is not set up here: ask whoever manages your account for a"
    " new password."
)
GONE = "This reset link has expired or was already used. Ask for a new one."


def _page(
    request: Request, name: str, context: dict[str, object], status_code: int = 200
) -> HTMLResponse:
    """A page with the sign-in form's CSRF token (and its cookie), never cached or
    referred (a reset page's address holds its token)."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    page = render(request, name, {"login_csrf": token, **context}, status_code=status_code)
    page.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="lax", path=PREFIX)
    page.headers["Referrer-Policy"] = "no-referrer"
    page.headers["Cache-Control"] = "no-store"
    return page


def _stale(request: Request, presented: str | None) -> HTMLResponse | None:
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or not presented or not secrets.compare_digest(expected, presented):
        return error_page(request, 403, "The form was stale: reload it and try again.")
    return None


@router.get("/forgot", response_class=HTMLResponse)
def forgot_form(request: Request) -> Response:
    if not container_of(request).password_resets.enabled:
        return error_page(request, 404, NOT_SET_UP)
    return _page(request, "reset_forgot.html", {})


@router.post("/forgot", response_class=HTMLResponse)
def forgot(
    request: Request,
    tasks: BackgroundTasks,
    csrf_token: OptionalText = None,
    email: OptionalText = None,
) -> Response:
    """The same answer whoever has the address; the email goes out after it."""
    refused = _stale(request, csrf_token)
    if refused is not None:
        return refused
    resets = container_of(request).password_resets
    if not resets.enabled:
        return error_page(request, 404, NOT_SET_UP)
    pending = resets.request(email or "", client_address(request))  # SignInThrottled: 429
    if pending is not None:
        tasks.add_task(resets.send, pending)
    return _page(request, "reset_sent.html", {"message": NEUTRAL})


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_form(request: Request, token: str) -> Response:
    if not container_of(request).password_resets.usable(token):
        return _page(request, "reset_invalid.html", {"message": GONE}, status_code=410)
    return _page(request, "reset_form.html", {"token": token})


@router.post("/reset/{token}", response_class=HTMLResponse)
def reset(
    request: Request,
    token: str,
    csrf_token: OptionalText = None,
    password: OptionalText = None,
    confirm: OptionalText = None,
) -> Response:
    """The new password (argon2id); the user's sessions end; the link is used up."""
    refused = _stale(request, csrf_token)
    if refused is not None:
        return refused
    resets = container_of(request).password_resets
    try:
        if (password or "") != (confirm or ""):
            raise InvalidInput("the two passwords differ")
        done = resets.complete(token, password or "")
    except InvalidInput as exc:
        context: dict[str, object] = {"token": token, "message": exc.message}
        return _page(request, "reset_form.html", context, status_code=422)
    if not done:
        return _page(request, "reset_invalid.html", {"message": GONE}, status_code=410)
    return RedirectResponse(f"{PREFIX}/login?done=password-changed", status_code=303)
