"""The account administration pages in a real browser (the fixtures and helpers of
``test_portal_browser``: Debian's chromium, uvicorn on 127.0.0.1, a temporary SQLite
database; skipped with it). Screenshots go to ``test-artifacts/portal/``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from test_portal_browser import _Served, _shot, _sign_in, browser, page, served  # noqa: F401


def test_customer_sets_its_user_s_limits(page: Any, served: _Served) -> None:  # noqa: F811
    world = served.world
    _sign_in(page, world.emails["customer_a"])
    page.goto(f"/portal/accounts/{world.customer_a}")
    page.get_by_role("link", name="Settings and limits of User A1u").click()
    page.wait_for_selector("h1:has-text('Settings of')")
    page.get_by_label("Longest call (seconds)").fill("300")
    page.get_by_label("Spend cap per day", exact=True).fill("4.50")
    with page.expect_navigation():
        page.get_by_role("button", name="Save settings").click()
    page.wait_for_selector("text=Done: settings")
    system = world.container.cards.operator_of(world.user_a)
    user = world.container.accounts.visible(system, world.user_a)
    assert user.limits.max_call_duration == 300
    assert user.limits.daily_spend_cap == Decimal("4.50")
    _shot(page, "customer-user-limits")


def test_admin_generates_and_activates_a_card_batch(page: Any, served: _Served) -> None:  # noqa: F811
    world = served.world
    _sign_in(page, world.emails["admin"])
    page.get_by_role("link", name="Cards", exact=True).click()
    page.fill("#batch-owner", str(world.customer_b))
    page.fill("#batch-count", "2")
    page.fill("#batch-value", "5")
    page.fill("#batch-name", "Browser batch")
    with page.expect_navigation():
        page.get_by_role("button", name="Generate").click()
    csv_text = page.wait_for_selector("[data-testid=printer-csv]").input_value()
    assert csv_text.startswith("serial,pin,")
    assert len(csv_text.strip().splitlines()) == 3
    _shot(page, "admin-card-batch-created")
    page.get_by_role("link", name="the batch's page").click()
    page.wait_for_selector("[data-testid=inactive]:has-text('2')")
    with page.expect_navigation():
        page.get_by_role("button", name="Activate", exact=True).click()
    assert page.wait_for_selector("[data-testid=active]").inner_text() == "2"
    _shot(page, "admin-card-batch")
