"""The portal in a real browser: Playwright (sync API) driving Debian's chromium
(``/usr/bin/chromium``, installed by ``scripts/install-peers``; never a downloaded
browser) against the real app served by uvicorn on 127.0.0.1, on a temporary SQLite
database. Each role does its main job end to end; screenshots go to
``test-artifacts/portal/``.

No sleeps: every step waits for a selector or a navigation, with generous timeouts (CI
is a loaded 2-CPU machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from portal_browser import MISSING, TIMEOUT_MS, chromium, shot
from portal_browser import served as served_app
from portal_world import PASSWORD, World, build_world, fund_and_call

from voxbill.bootstrap import Container, build
from voxbill.settings import Settings

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extras)"
)


class _Served:
    def __init__(self, world: World, base: str) -> None:
        self.world = world
        self.base = base


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Served]:
    path = tmp_path_factory.mktemp("portal-browser") / "voxbill.db"
    container: Container = build(Settings(database_url=f"sqlite:///{path}"), migrate=True)
    world = build_world(container)
    fund_and_call(world)
    try:
        with served_app(world.app) as base:
            yield _Served(world, base)
    finally:
        container.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(sync_api) as launched:
        yield launched


@pytest.fixture
def page(browser: Any, served: _Served) -> Iterator[Any]:
    context = browser.new_context(base_url=served.base, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def _shot(page: Any, name: str) -> None:
    shot(page, name)


def _sign_in(page: Any, email: str) -> None:
    page.goto("/")  # redirected to /portal/, then to the sign-in page
    page.wait_for_selector("#email")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector("text=Welcome")


def test_admin_signs_in_and_sees_the_account_tree(page: Any, served: _Served) -> None:
    _sign_in(page, served.world.emails["admin"])
    page.get_by_role("link", name="Accounts").first.click()
    table = page.wait_for_selector("table[data-testid=accounts]")
    text = table.inner_text()
    for name in ("Reseller A", "Customer A1", "Reseller B", "Customer B1"):
        assert name in text
    page.get_by_label("Search by name").fill("B1")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    rows = page.wait_for_selector("table[data-testid=accounts]").inner_text()
    assert "Customer B1" in rows
    assert "Reseller A" not in rows
    _shot(page, "admin-accounts")


def test_reseller_creates_a_customer_and_funds_it(page: Any, served: _Served) -> None:
    world = served.world
    world.container.ledger.top_up(world.reseller_a, Decimal("50"), actor="test")
    _sign_in(page, world.emails["reseller_a"])
    page.goto(f"/portal/accounts/{world.reseller_a}")
    page.get_by_label("Name").fill("Browser Customer")
    page.get_by_label("Kind").select_option("customer")
    with page.expect_navigation():
        page.get_by_role("button", name="Create account").click()
    page.wait_for_selector("h1:has-text('Browser Customer')")
    new_id = int(page.url.split("?")[0].rsplit("/", 1)[1])
    page.get_by_label("Amount", exact=True).fill("20")
    page.get_by_label("Note", exact=True).fill("first funds")
    with page.expect_navigation():
        page.get_by_role("button", name="Transfer").click()
    balance = page.wait_for_selector("[data-testid=balance]").inner_text()
    assert balance.startswith("20.00")
    assert world.balance(new_id) == Decimal("20")
    _shot(page, "reseller-funded-customer")


def test_customer_exports_its_cdrs_as_csv(page: Any, served: _Served) -> None:
    _sign_in(page, served.world.emails["customer_a"])
    page.get_by_role("link", name="Calls").click()
    page.wait_for_selector("text=442079460000")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export as CSV").click()
    saved = download.value.path()
    lines = Path(saved).read_text(encoding="utf-8").strip().splitlines()
    assert lines[0].startswith("id,session_id,account_id")
    assert any("portal-call-1" in line for line in lines[1:])
    _shot(page, "customer-cdrs")


def test_user_checks_its_balance_and_a_rate(page: Any, served: _Served) -> None:
    _sign_in(page, served.world.emails["user_a"])
    assert page.wait_for_selector("[data-testid=balance]").inner_text().endswith("USD")
    page.get_by_role("link", name="Rates", exact=True).click()
    page.get_by_label("Price of a call to").fill("+447911123456")
    with page.expect_navigation():
        page.get_by_role("button", name="Look up").click()
    rate = page.wait_for_selector("[data-testid=rate]").inner_text()
    assert rate.startswith("0.10")
    _shot(page, "user-rate")
