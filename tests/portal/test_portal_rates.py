"""The portal's rate-plan pages over TestClient, on SQLite and PostgreSQL: a deck
previewed (a dry run: nothing written) then published (exactly that deck, once), bad
decks with their line numbers, a plan's page (settings, rates by id, imports and their
change records, a lookup), reseller authoring (a copy, an empty plan, delete, margin),
what payers see, tenancy (404), support (read-only, 403) and CSRF."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from portal_world import World, csrf_of, snapshot

from voxbill.domain.access import Principal, Role
from voxbill.domain.rate_deck import read_deck
from voxbill.services.rating.imports import PlanOptions

# a-retail holds 44 at 0.10 (UK) and 33 at 0.20 (France)
CHANGED = "prefix,rate,destination,effective_from\n44,0.12,UK,\n49,0.05,Germany,2026-06-01\n"
_POST_FORM = re.compile(r'<form method="post" action="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


def preview(client: TestClient, plan: str, deck: str, **options: str) -> Any:
    csrf = csrf_of(client.get("/portal/rates").text)
    return client.post(
        "/portal/rates/preview",
        data={"csrf_token": csrf, "plan": plan, **options},
        files={"file": ("deck.csv", deck.encode(), "text/csv")},
    )


def publish_form(html: str) -> dict[str, str]:
    """The hidden fields of the preview page's Publish form."""
    start = html.index('action="/portal/rates/publish"')
    return dict(_HIDDEN.findall(html[start:]))


def _table(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]


def _rates(world: World, plan: str) -> list[tuple[str, Decimal]]:
    system = Principal(world.root, f"/{world.root}/", Role.ADMIN)
    page = world.container.rate_plans.show(system, plan, after_id=None, limit=100)
    return sorted((r.prefix, r.rate) for r in page.rates)


def test_preview_writes_nothing_then_publish_applies_it_once(world: World) -> None:
    client = world.signed_in("admin")
    before = snapshot(world.container)
    shown = preview(client, "a-retail", CHANGED, replace="1")
    assert shown.status_code == 200, shown.text
    page = shown.text
    for kind, count in (("new", 1), ("increased", 1), ("decreased", 0), ("removed", 1)):
        assert f'data-testid="count-{kind}">{count}<' in page, kind
    assert "Germany" in page
    assert "2026-06-01" in page  # the new price's effective date
    assert "France" in page  # removed by the replace
    assert "2 decimals" in page or "4 decimals" in page  # the plan's rounding
    assert "UTC" in page  # and timezone
    assert 'data-testid="sha256"' in page
    assert snapshot(world.container) == before  # a preview is a dry run
    fields = publish_form(page)
    assert set(fields) >= {"csrf_token", "plan", "deck", "state", "digest", "replace"}
    published = client.post("/portal/rates/publish", data=fields)
    assert published.status_code == 303, published.text
    location = published.headers["location"]
    assert location.startswith("/portal/rates/a-retail?import_id=")
    assert _rates(world, "a-retail") == [("44", Decimal("0.12")), ("49", Decimal("0.05"))]
    record = client.get(location).text
    assert "Price changes of import" in record
    for kind in ("new", "increased", "removed"):
        assert f'class="change-{kind}">{kind}<' in record, kind
    # the same preview posted again: the plan has changed since, nothing imported twice
    after = snapshot(world.container)
    replayed = client.post("/portal/rates/publish", data=fields)
    assert replayed.status_code == 409
    assert "preview the deck again" in replayed.text
    assert snapshot(world.container) == after


def test_a_tampered_or_stale_preview_publishes_nothing(world: World) -> None:
    client = world.signed_in("admin")
    fields = publish_form(preview(client, "a-retail", CHANGED).text)
    before = snapshot(world.container)
    for change in ({"deck": "cHJlZml4LHJhdGUKNDQsMC4wMQo="}, {"replace": "1"}, {"state": "new"}):
        refused = client.post("/portal/rates/publish", data={**fields, **change})
        assert refused.status_code == 422, change
        assert "altered" in refused.text
    assert snapshot(world.container) == before
    # the plan changes after the preview (another import): 409, preview again
    other = preview(client, "a-retail", "prefix,rate\n44,0.30\n")
    assert client.post("/portal/rates/publish", data=publish_form(other.text)).status_code == 303
    stale = client.post("/portal/rates/publish", data=fields)
    assert stale.status_code == 409
    assert "changed after the preview" in stale.text
    assert _rates(world, "a-retail") == [("33", Decimal("0.20")), ("44", Decimal("0.30"))]


def test_a_bad_deck_shows_its_line_numbers_and_offers_no_publish(world: World) -> None:
    client = world.signed_in("admin")
    before = snapshot(world.container)
    bad = "prefix,rate,destination\n44,0.11,UK\n33,abc,France\n49,,Germany\n"
    shown = preview(client, "a-retail", bad)
    assert shown.status_code == 422
    assert 'data-testid="problems"' in shown.text
    assert "<td>3</td>" in shown.text
    assert "<td>4</td>" in shown.text
    assert "line 3" in shown.text
    assert "/portal/rates/publish" not in shown.text
    skipped = preview(client, "a-retail", bad, skip_bad_rows="1")
    assert skipped.status_code == 200
    assert "<td>3</td>" in skipped.text
    assert 'data-testid="count-increased">1<' in skipped.text
    assert "/portal/rates/publish" in skipped.text
    for deck in ("", "\x00\x01garbage"):
        assert preview(client, "a-retail", deck).status_code == 422
    assert preview(client, "fresh", "prefix,rate\n44,0.1\n").status_code == 422  # no currency
    assert snapshot(world.container) == before
    new = preview(client, "fresh", "prefix,rate\n44,0.1\n", currency="eur")
    assert new.status_code == 200
    assert "new, in EUR" in new.text
    assert client.post("/portal/rates/publish", data=publish_form(new.text)).status_code == 303
    assert _rates(world, "fresh") == [("44", Decimal("0.1"))]


def test_the_plan_page_pages_its_rates_and_shows_its_imports(world: World) -> None:
    deck = "prefix,rate\n" + "".join(f"{1000 + n},0.{n:02d}\n" for n in range(60))
    world.container.rate_import.import_deck(
        read_deck(deck.splitlines(keepends=True)),
        operator_id=world.root,
        plan="a-retail",
        source="bulk",
        options=PlanOptions(),
    )
    client = world.signed_in("admin")
    page = client.get("/portal/rates/a-retail")
    assert page.status_code == 200
    assert "half_up" in page.text
    assert "Rates (62)" in page.text
    assert _table(page.text, "rates").count("<tr><td>") == 50  # a page of 50, the rest by id
    more = re.search(r"href=\"\?after_id=(\d+)", page.text)
    assert more is not None
    rest = client.get(f"/portal/rates/a-retail?after_id={more.group(1)}").text
    assert _table(rest, "rates").count("<tr><td>") == 12
    assert "<td>1059</td>" in _table(rest, "rates")
    assert "?after_id=" not in rest
    assert "bulk" in page.text  # the newest import first, its change record shown
    assert 'class="change-new">new<' in page.text
    looked = client.get("/portal/rates/a-retail", params={"number": "+447911123456"}).text
    assert 'data-testid="rate">0.10' in looked
    none = client.get("/portal/rates/a-retail", params={"number": "+999"}).text
    assert 'role="alert"' in none


def test_a_reseller_authors_its_own_plans(world: World) -> None:
    client = world.signed_in("reseller_a")
    csrf = csrf_of(client.get("/portal/rates").text)
    made = client.post(
        "/portal/rates/new", data={"csrf_token": csrf, "name": "a-own", "currency": "USD"}
    )
    assert made.status_code == 303, made.text
    assert client.get("/portal/rates/a-own").status_code == 200
    shown = preview(client, "a-own", "prefix,rate,destination\n44,0.08,UK\n")
    assert 'data-testid="count-new">1<' in shown.text
    assert client.post("/portal/rates/publish", data=publish_form(shown.text)).status_code == 303
    copied = client.post(
        "/portal/rates/new",
        data={
            "csrf_token": csrf,
            "name": "a-own-plus",
            "from_plan": "a-own",
            "markup_percent": "50",
        },
    )
    assert copied.status_code == 303, copied.text
    assert _rates(world, "a-own-plus") == [("44", Decimal("0.12"))]
    own = client.get("/portal/rates/a-own-plus").text
    assert "/portal/rates/a-own-plus/delete" in own
    assert (
        client.post("/portal/rates/a-own-plus/delete", data={"csrf_token": csrf}).status_code == 303
    )
    assert client.get("/portal/rates/a-own-plus").status_code == 404
    # the operator's plan it sells: read, no upload or delete control; writes refused
    sold = client.get("/portal/rates/a-retail").text
    assert _POST_FORM.findall(sold) == ["/portal/logout"]
    before = snapshot(world.container)
    assert preview(client, "a-retail", CHANGED).status_code == 403
    assert (
        client.post("/portal/rates/a-retail/delete", data={"csrf_token": csrf}).status_code == 403
    )
    taken = preview(client, "b-retail", CHANGED)  # another's name: taken, whose not said
    assert taken.status_code == 409
    assert "Reseller B" not in taken.text
    assert snapshot(world.container) == before


def test_a_plan_in_use_is_not_deleted_and_says_why(world: World) -> None:
    client = world.signed_in("admin")
    page = client.get("/portal/rates/a-retail").text
    before = snapshot(world.container)
    refused = client.post("/portal/rates/a-retail/delete", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 409
    assert "assign them another plan" in refused.text
    assert snapshot(world.container) == before


def test_margin_of_a_plan_the_reseller_sells(world: World) -> None:
    system = Principal(world.root, f"/{world.root}/", Role.ADMIN)
    deck = read_deck("prefix,rate\n44,0.04\n".splitlines(keepends=True))
    world.container.rate_import.import_deck(
        deck, operator_id=world.root, plan="wholesale", source="t", options=PlanOptions("USD")
    )
    world.container.accounts.patch(system, world.reseller_a, {"rate_plan": "wholesale"})
    client = world.signed_in("reseller_a")
    assert "/portal/rates/a-retail/margin" in client.get("/portal/rates/a-retail").text
    margin = client.get("/portal/rates/a-retail/margin")
    assert margin.status_code == 200, margin.text
    assert "<td>0.06</td>" in margin.text  # UK: sells 0.10, buys 0.04
    assert "no rate" in margin.text  # France: the buy plan has none
    assert client.get("/portal/rates/b-retail/margin").status_code == 404


@pytest.mark.parametrize("who", ["customer_a", "user_a"])
def test_payers_see_the_rates_they_pay_and_no_write_control(world: World, who: str) -> None:
    client = world.signed_in(who)
    listing = client.get("/portal/rates").text
    assert 'href="/portal/rates/a-retail"' in listing
    assert _POST_FORM.findall(listing) == ["/portal/logout"]
    page = client.get("/portal/rates/a-retail")
    assert page.status_code == 200
    assert "<td>France</td>" in page.text
    assert _POST_FORM.findall(page.text) == ["/portal/logout"]
    assert client.get("/portal/rates/b-retail").status_code == 404
    before = snapshot(world.container)
    csrf = csrf_of(page.text)
    assert preview(client, "a-retail", CHANGED).status_code == 403
    assert (
        client.post("/portal/rates/new", data={"csrf_token": csrf, "name": "x"}).status_code == 403
    )
    assert client.post("/portal/rates/a-retail/delete", data={"csrf_token": csrf}).status_code in (
        403,
        404,
    )
    assert snapshot(world.container) == before


def test_another_operator_or_reseller_plan_is_404(world: World) -> None:
    other, _ = world.container.accounts.ensure_operator("Other Telecom", "USD")
    world.container.rate_import.import_deck(
        read_deck("prefix,rate\n44,0.5\n".splitlines(keepends=True)),
        operator_id=other.id,
        plan="other-only",
        source="t",
        options=PlanOptions("USD"),
    )
    admin = world.signed_in("admin")
    for path in ("/portal/rates/other-only", "/portal/rates/other-only/margin"):
        assert admin.get(path).status_code == 404, path
    reseller = world.signed_in("reseller_a")
    for path in ("/portal/rates/b-retail", "/portal/rates/other-only", "/portal/rates/nope"):
        assert reseller.get(path).status_code == 404, path
    before = snapshot(world.container)
    csrf = csrf_of(admin.get("/portal/rates").text)
    assert (
        admin.post("/portal/rates/other-only/delete", data={"csrf_token": csrf}).status_code == 404
    )
    assert snapshot(world.container) == before


@pytest.mark.parametrize("who", ["support", "support_a"])
def test_support_reads_plans_and_every_write_is_403(world: World, who: str) -> None:
    client = world.signed_in(who)
    for path in ("/portal/rates", "/portal/rates/a-retail"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert _POST_FORM.findall(page.text) == ["/portal/logout"], path
        assert "data-write" not in page.text
    admin = world.signed_in("admin")
    fields = publish_form(preview(admin, "a-retail", CHANGED).text)
    csrf = csrf_of(client.get("/portal/rates").text)
    before = snapshot(world.container)
    assert preview(client, "a-retail", CHANGED).status_code == 403
    published = client.post("/portal/rates/publish", data={**fields, "csrf_token": csrf})
    assert published.status_code == 403
    for path, data in (
        ("/portal/rates/new", {"name": "s-plan", "currency": "USD"}),
        ("/portal/rates/a-retail/delete", {}),
    ):
        assert client.post(path, data={"csrf_token": csrf, **data}).status_code == 403, path
    assert snapshot(world.container) == before


def test_every_rate_form_needs_its_csrf_token(world: World) -> None:
    client = world.signed_in("admin")
    fields = publish_form(preview(client, "a-retail", CHANGED).text)
    before = snapshot(world.container)
    forged = client.post(
        "/portal/rates/preview",
        data={"plan": "a-retail"},
        files={"file": ("deck.csv", CHANGED.encode(), "text/csv")},
    )
    assert forged.status_code == 403
    del fields["csrf_token"]
    assert client.post("/portal/rates/publish", data=fields).status_code == 403
    assert (
        client.post("/portal/rates/new", data={"name": "x", "currency": "USD"}).status_code == 403
    )
    assert client.post("/portal/rates/a-retail/delete").status_code == 403
    assert snapshot(world.container) == before
