"""The portal's accessibility in a real browser (docs/portal.md, "Guarantees and how they
are tested"): Playwright driving Debian's chromium (``/usr/bin/chromium``, never a
downloaded browser) against the real app served by uvicorn on 127.0.0.1, on a temporary
SQLite database, as ``test_portal_browser.py`` does.

- signing in with the keyboard only: Tab reaches the skip link first, then the fields,
  each showing a focus outline; Enter signs in;
- at a phone's viewport (375x667) no page scrolls sideways (wide tables scroll inside
  their own box, their captions in view): every GET route of the app
  (``portal_routes``: a new page is checked as soon as it is registered), as the admin
  and as a user.

Screenshots go to ``test-artifacts/portal/``. No sleeps: every step waits for a selector
or a navigation, with generous timeouts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from portal_browser import MISSING, TIMEOUT_MS, chromium, shot
from portal_browser import served as served_app
from portal_routes import guarded, request_for
from portal_world import PASSWORD, Objects, World, add_objects, build_world, fund_and_call

from voxbill.bootstrap import Container, build
from voxbill.settings import Settings

PHONE = {"width": 375, "height": 667}

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extras)"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str, Objects]]:
    path = tmp_path_factory.mktemp("portal-a11y") / "voxbill.db"
    container: Container = build(Settings(database_url=f"sqlite:///{path}"), migrate=True)
    world = build_world(container)
    fund_and_call(world)
    objects = add_objects(world)
    try:
        with served_app(world.app) as base:
            yield world, base, objects
    finally:
        container.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(sync_api) as launched:
        yield launched


def _context(browser: Any, base: str, **options: Any) -> Any:
    context = browser.new_context(base_url=base, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _shot(page: Any, name: str) -> None:
    shot(page, name)


def _focused(page: Any) -> dict[str, str]:
    return dict(
        page.evaluate(
            """() => {
                const e = document.activeElement;
                const style = getComputedStyle(e);
                return {id: e.id || "", tag: e.tagName.toLowerCase(),
                        text: (e.textContent || "").trim(), outline: style.outlineStyle};
            }"""
        )
    )


def _tab_to(page: Any, element_id: str, most: int = 12) -> None:
    """Tab until the element has the focus (it must be reachable by the keyboard)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if _focused(page)["id"] == element_id:
            return
    raise AssertionError(f"#{element_id} is not reachable with Tab")


def test_sign_in_with_the_keyboard_only(browser: Any, served: tuple[World, str, Objects]) -> None:
    world, base, _ = served
    context = _context(browser, base)
    try:
        page = context.new_page()
        page.goto("/portal/login")
        page.wait_for_selector("#email")
        page.keyboard.press("Tab")
        first = _focused(page)
        assert (first["tag"], first["text"]) == ("a", "Skip to content"), first
        assert first["outline"] != "none", "the focused skip link shows no outline"
        _tab_to(page, "email")
        assert _focused(page)["outline"] != "none", "the focused field shows no outline"
        page.keyboard.type(world.emails["customer_a"])
        page.keyboard.press("Tab")
        assert _focused(page)["id"] == "password"
        page.keyboard.type(PASSWORD)
        _shot(page, "a11y-keyboard-sign-in")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.wait_for_selector("h1:has-text('Welcome')")
        assert page.url.endswith("/portal/")
        seen = 0
        for _ in range(30):  # every link and button shows where the focus is
            page.keyboard.press("Tab")
            focused = _focused(page)
            if focused["tag"] == "body":  # past the last one
                break
            seen += 1
            assert focused["outline"] != "none", f"no focus outline on {focused}"
        assert seen >= 6
    finally:
        context.close()


@pytest.mark.parametrize("who", ["admin", "user_a"])
def test_no_page_scrolls_sideways_on_a_phone(
    browser: Any, served: tuple[World, str, Objects], who: str
) -> None:
    world, base, objects = served
    context = _context(browser, base, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto("/portal/login")
        _shot(page, f"a11y-phone-{who}-sign-in")
        page.get_by_label("Email").fill(world.emails[who])
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_selector("h1:has-text('Welcome')")
        wide = []
        for route in guarded(world.app):
            if route.method != "GET":
                continue
            request = request_for(route, objects.a, objects)
            url = request.url + ("?" + urlencode(request.query) if request.query else "")
            head = page.request.get(url)  # the same session: is it a page or a download?
            if "text/html" not in head.headers.get("content-type", ""):
                continue
            page.goto(url)
            page.wait_for_selector("h1")
            width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            if who == "admin":
                _shot(page, f"a11y-phone-{who}{_slug(route.path)}")
            cut = page.evaluate(  # a wide table's caption stays readable
                """() => [...document.querySelectorAll("caption")]
                    .filter(c => c.getBoundingClientRect().right > window.innerWidth + 1)
                    .map(c => c.textContent.trim())"""
            )
            if width[0] > width[1] or cut:
                _shot(page, f"a11y-phone-{who}{_slug(route.path)}-too-wide")
                wide.append(f"{url}: {width[0]}px wide in {width[1]}px; captions cut: {cut}")
        assert wide == [], wide
    finally:
        context.close()


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).rstrip("-")
