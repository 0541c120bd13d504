"""A rate deck previewed and published in a real browser (Playwright driving Debian's
chromium, as tests/portal/test_portal_browser.py does, whose fixtures these are): the
admin uploads a deck that changes prices, sees new, increased, decreased and removed on
the preview, publishes it and sees the change record. Screenshots go to
``test-artifacts/portal/``. No sleeps: every step waits for a selector or a navigation."""

from __future__ import annotations

from typing import Any

from test_portal_browser import _Served, _shot, _sign_in, browser, page, served

from voxbill.domain.rate_deck import read_deck
from voxbill.services.rating.imports import PlanOptions

__all__ = ["browser", "page", "served"]  # the fixtures, shared with the browser tests

# a-retail: 44 at 0.10, 33 at 0.20, and 34 (added below) at 0.30
DECK = "prefix,rate,destination\n44,0.12,UK\n33,0.15,France\n49,0.05,Germany\n"


def test_admin_previews_and_publishes_a_deck(page: Any, served: _Served) -> None:
    world = served.world
    world.container.rate_import.import_deck(
        read_deck("prefix,rate,destination\n34,0.30,Spain\n".splitlines(keepends=True)),
        operator_id=world.root,
        plan="a-retail",
        source="test",
        options=PlanOptions(),
    )
    _sign_in(page, world.emails["admin"])
    page.get_by_role("link", name="Rates", exact=True).click()
    with page.expect_navigation():
        page.get_by_role("link", name="a-retail").click()
    page.wait_for_selector("h1:has-text('Plan a-retail')")
    page.get_by_label("Deck (CSV").set_input_files(
        files=[{"name": "deck.csv", "mimeType": "text/csv", "buffer": DECK.encode()}]
    )
    page.get_by_label("Replace the plan").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Preview changes").click()
    page.wait_for_selector("text=nothing has been written yet")
    for kind in ("new", "increased", "decreased", "removed"):
        count = page.wait_for_selector(f"[data-testid=count-{kind}]").inner_text()
        assert count == "1", kind
        assert page.locator(f"table[data-testid=preview-{kind}]").count() == 1, kind
    assert "Spain" in page.locator("table[data-testid=preview-removed]").inner_text()
    _shot(page, "admin-rate-deck-preview")
    with page.expect_navigation():
        page.get_by_role("button", name="Publish").click()
    record = page.wait_for_selector("table[data-testid=changes]").inner_text()
    for text in ("new", "increased", "decreased", "removed", "Germany", "Spain"):
        assert text in record, text
    assert "Done: published" in page.inner_text("main")
    _shot(page, "admin-rate-deck-published")
