"""The portal's guarantees on EVERY route, on SQLite and PostgreSQL (docs/portal.md,
"Guarantees and how they are tested"): the routes are read from the app
(``portal_routes.guarded``), their parameters filled from tables keyed by name, so a page
any area adds is checked as soon as it is registered.

- tenancy: another subtree's object is 404 to every GET, 403/404 to every write, which
  changes nothing;
- support: every page its account's writer reads renders with no write control, every
  write is 403 and changes nothing;
- CSRF: a write without the session's token is 403 and changes nothing;
- no 500: garbage in any query or path parameter, for every role;
- accessibility: lang, one h1, labelled controls, named tables and images.

One world per module and database: every check here reads, or is refused (and checks
that nothing changed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from portal_routes import (
    GARBAGE,
    NAME_TAKEN_WRITES,
    PATH_GARBAGE,
    PUBLIC,
    SELF_SERVICE_WRITES,
    WRITE_FORM_PAGES,
    Request,
    Route,
    guarded,
    parse,
    portal_routes,
    request_for,
    url_of,
    value_of,
)
from portal_world import Objects, Side, World, add_objects, build_world, csrf_of, snapshot

from voxbill.bootstrap import build
from voxbill.portal.pages.common import page_router
from voxbill.portal.web import PREFIX, Visitor
from voxbill.settings import Settings

ROLES = ("admin", "support", "reseller_a", "support_a", "customer_a", "user_a", "reseller_b")
#: a support user reads what its account's writer reads
TWIN = {"support": "admin", "support_a": "reseller_a"}


@dataclass
class Guarded:
    world: World
    objects: Objects
    routes: list[Route]
    clients: dict[str, TestClient]
    csrf: dict[str, str]

    @property
    def gets(self) -> list[Route]:
        return [r for r in self.routes if r.method == "GET"]

    @property
    def writes(self) -> list[Route]:
        return [r for r in self.routes if r.method != "GET"]

    def send(self, who: str, route: Route, request: Request, csrf: str | None = "own") -> Any:
        client = self.clients[who]
        if route.method == "GET":
            return client.get(request.url, params=request.query)
        data = dict(request.data)
        if csrf == "own":
            data["csrf_token"] = self.csrf[who]
        elif csrf is not None:
            data["csrf_token"] = csrf
        return client.request(
            route.method,
            request.url,
            params=request.query,
            data=data,
            files=request.files or None,
        )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def guard(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, _templates: Any
) -> Iterator[Guarded]:
    """A world with an object of every kind on both sides, and a signed-in client per
    role, once per database (the templates of tests/conftest.py: a migrated copy)."""
    name = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("guarantees") / "voxbill.db"
        _templates.copy_sqlite(_templates.sqlite(tmp_path_factory.getbasetemp()), path)
        url = f"sqlite:///{path}"
    else:
        if not os.environ.get("VOXBILL_TEST_POSTGRES_URL"):
            pytest.skip("VOXBILL_TEST_POSTGRES_URL is not set: PostgreSQL test skipped")
        url, name = _templates.fresh_postgres(True)
    container = build(Settings(database_url=url), migrate=True)
    try:
        world = build_world(container)
        objects = add_objects(world)
        clients = {who: world.signed_in(who) for who in ROLES}
        csrf = {who: csrf_of(c.get("/portal/").text) for who, c in clients.items()}
        yield Guarded(world, objects, guarded(world.app), clients, csrf)
    finally:
        container.close()
        if name is not None:
            _templates.drop_later(name)


def _other(guard: Guarded, who: str) -> Side:
    """The side that is another subtree for ``who``."""
    return guard.objects.a if who == "reseller_b" else guard.objects.b


def _own(guard: Guarded, who: str) -> Side:
    """The side of ``who``'s own subtree."""
    return guard.objects.b if who == "reseller_b" else guard.objects.a


def _shown(response: Any) -> str:
    return f"{response.status_code} {response.text[:300]!r}"


def test_every_portal_route_is_covered(guard: Guarded) -> None:
    """Every route is signed in (or on purpose in PUBLIC), every write checks CSRF, and
    every parameter is in a table; the known pages are among them."""
    everything = portal_routes(guard.world.app)
    labels = {r.label for r in everything}
    for route in everything:
        if route.public:
            continue
        assert route.signed_in, (
            f"{route.label} takes no session (Visitor/Writer): if it is public on purpose, "
            "add it to PUBLIC in tests/portal/portal_routes.py"
        )
        if route.method != "GET":
            assert route.writer, f"{route.label} must take the Writer dependency (CSRF)"
        for side in (guard.objects.a, guard.objects.b):
            request_for(route, side, guard.objects)  # fails on a parameter no table knows
    assert {f"{m} {p}" for m, p in PUBLIC} <= labels, "a PUBLIC route is gone: update PUBLIC"
    for known in (
        "GET /portal/",
        "GET /portal/accounts",
        "GET /portal/accounts/{account_id}",
        "POST /portal/accounts/{account_id}/top-up",
        "POST /portal/accounts/{account_id}/users/{user_id}/password",
        "GET /portal/cdrs",
        "GET /portal/rates",
    ):
        assert known in labels


def test_signed_out_every_route_goes_to_sign_in(guard: Guarded) -> None:
    client = guard.world.client()
    before = snapshot(guard.world.container)
    for route in guard.routes:
        request = request_for(route, guard.objects.a, guard.objects)
        response = client.request(
            route.method, request.url, params=request.query, data=request.data or None
        )
        assert response.status_code == 303, (route.label, _shown(response))
        assert response.headers["location"] == "/portal/login"
    assert snapshot(guard.world.container) == before


@pytest.mark.parametrize("who", ["reseller_b", "customer_a", "user_a", "support_a"])
def test_another_subtree_is_404_and_writes_change_nothing(guard: Guarded, who: str) -> None:
    other = _other(guard, who)
    checked = 0
    failed: list[str] = []
    before = snapshot(guard.world.container)
    for route in guard.routes:
        if not route.names_objects:
            continue
        checked += 1
        response = guard.send(who, route, request_for(route, other, guard.objects))
        allowed = {404} if route.method == "GET" else {403, 404}
        if (route.method, route.path) in NAME_TAKEN_WRITES:
            allowed.add(409)
        if route.method == "GET" and response.status_code == 403:
            # a page the role may not read at all says so of its own subtree's object
            # too: a refusal that tells nothing of the other subtree
            own = guard.send(who, route, request_for(route, _own(guard, who), guard.objects))
            if own.status_code == 403:
                allowed.add(403)
        if response.status_code not in allowed:
            failed.append(f"{who} {route.label}: {_shown(response)}")
    assert failed == [], "\n".join(failed)
    assert checked >= 8
    assert snapshot(guard.world.container) == before


@pytest.mark.parametrize("who", ["support", "support_a"])
def test_support_reads_every_page_with_no_write_control(guard: Guarded, who: str) -> None:
    mine = guard.objects.a
    read = 0
    failed: list[str] = []
    before = snapshot(guard.world.container)
    for route in guard.gets:
        request = request_for(route, mine, guard.objects)
        twin = guard.send(TWIN[who], route, request)
        response = guard.send(who, route, request)
        expected = {200, 403} if route.path in WRITE_FORM_PAGES else {200}
        if twin.status_code >= 500:
            failed.append(f"{TWIN[who]} {route.label}: {_shown(twin)}")
        if twin.status_code != 200:
            expected = {twin.status_code}
        if response.status_code not in expected:
            failed.append(f"{who} {route.label}: {_shown(response)} (expected {expected})")
        if response.status_code != 200 or "text/html" not in response.headers["content-type"]:
            continue
        read += 1
        page = parse(response.text)
        if page.post_forms != ["/portal/logout"]:
            failed.append(f"{who} {route.label}: write forms {page.post_forms}")
        if page.htmx_writes:
            failed.append(f"{who} {route.label}: htmx writes {page.htmx_writes}")
        if "data-write" in response.text:
            failed.append(f"{who} {route.label}: a data-write control")
        # the fragment htmx asks for (the next rows of a list…) is read-only too
        fragment = guard.clients[who].get(
            request.url, params=request.query, headers={"HX-Request": "true"}
        )
        part = parse(fragment.text)
        if not set(part.post_forms) <= {"/portal/logout"} or part.htmx_writes:
            failed.append(f"{who} {route.label} (htmx): {part.post_forms} {part.htmx_writes}")
    assert failed == [], "\n".join(failed)
    assert read >= 4
    assert snapshot(guard.world.container) == before, "a GET changed something"


@pytest.mark.parametrize("who", ["support", "support_a"])
def test_support_is_refused_every_write(guard: Guarded, who: str) -> None:
    before = snapshot(guard.world.container)
    failed: list[str] = []
    for route in guard.writes:
        if (route.method, route.path) in SELF_SERVICE_WRITES:
            continue
        response = guard.send(who, route, request_for(route, guard.objects.a, guard.objects))
        if response.status_code != 403:
            failed.append(f"{who} {route.label}: {_shown(response)}")
    assert failed == [], "\n".join(failed)
    assert snapshot(guard.world.container) == before


def test_every_write_without_the_sessions_csrf_token_is_403(guard: Guarded) -> None:
    before = snapshot(guard.world.container)
    forged = {"missing": None, "wrong": "forged", "another session's": guard.csrf["support"]}
    failed: list[str] = []
    for route in guard.writes:
        request = request_for(route, guard.objects.a, guard.objects)
        for what, token in forged.items():
            response = guard.send("admin", route, request, csrf=token)
            if response.status_code != 403:
                failed.append(f"{what} token, {route.label}: {_shown(response)}")
    assert failed == [], "\n".join(failed)
    assert snapshot(guard.world.container) == before
    assert guard.clients["admin"].get("/portal/").status_code == 200


def test_garbage_parameters_are_never_a_500(guard: Guarded) -> None:
    """Every GET route for every role, garbage in every query parameter; as the admin and
    as another subtree's reseller, garbage in each path parameter in turn; signed out,
    once: a 2xx-4xx answer, never a 500, and no GET changes anything (a GET that wrote
    would be a write without CSRF: SameSite=Lax lets a cross-site link make one)."""
    failed: list[str] = []
    before = snapshot(guard.world.container)
    routes = guard.gets + [r for r in portal_routes(guard.world.app) if r.public]
    for route in [r for r in routes if r.method == "GET"]:
        request = request_for(route, guard.objects.a, guard.objects)
        queries = [(request.url, {n: junk for n, _ in route.query}) for junk in GARBAGE]
        paths = []
        for name in route.path_params:
            for junk in PATH_GARBAGE:
                values = {n: value_of(n, guard.objects.a, guard.objects) for n in route.path_params}
                values[name] = junk
                paths.append((url_of(route, values), request.query))
        asked = [("nobody", guard.world.client(), queries[:1])]
        for who, client in guard.clients.items():
            extra = paths if who in ("admin", "reseller_b") else []
            asked.append((who, client, queries + extra))
        for who, client, urls in asked:
            for url, query in urls:
                response = client.get(url, params=query)
                if response.status_code >= 500:
                    failed.append(f"{who} {url[:80]} {str(query)[:80]}: {_shown(response)}")
    assert failed == [], "\n".join(failed)
    assert snapshot(guard.world.container) == before, "a GET changed something"


def test_every_page_is_accessible(guard: Guarded) -> None:
    """Every page, as each role that reads it (the admin, a reseller, a customer and a
    user: their pages differ), the sign-in and error pages: ``lang``, one h1, every
    control labelled, every table and image named."""
    pages: list[tuple[str, str]] = []
    failures = []
    for route in guard.gets:
        read = False
        for who in ("admin", "reseller_a", "customer_a", "user_a"):
            request = request_for(route, guard.objects.a, guard.objects)
            response = guard.send(who, route, request)
            if response.status_code >= 500:
                failures.append(f"{who} {route.label}: {_shown(response)}")
            read = read or response.status_code < 400
            if "text/html" in response.headers["content-type"]:
                pages.append((f"{who} {route.label} {response.status_code}", response.text))
        if not read:
            failures.append(f"{route.label}: no role could read it, so its page went unchecked")
    public = guard.world.client()
    for path in ("/portal/login", "/portal/forgot", "/portal/reset/no-such-token"):
        pages.append((f"signed out {path}", public.get(path).text))
    for label, html in pages:
        page = parse(html)
        problems = [
            "<html> has no lang" if not page.lang else "",
            f"{page.h1} <h1>" if page.h1 != 1 else "",
            f"no <label for> nor aria-label: {page.unlabelled}" if page.unlabelled else "",
            "a <table> without <caption> or aria-label" if page.tables_unnamed else "",
            f"no accessible name: {page.images_unnamed}" if page.images_unnamed else "",
        ]
        failures += [f"{label}: {p}" for p in problems if p]
    assert failures == [], "\n".join(failures)


def test_a_new_route_cannot_escape_the_checks() -> None:
    """An area's new routes are found wherever they are included, a parameter no table
    knows fails with the name to add, and a write without ``Writer`` is seen."""
    area = page_router()

    @area.get("/widgets/{widget_id}")
    def widget(widget_id: int, visitor: Visitor) -> None:
        """A page naming an object no table knows."""

    @area.post("/widgets")
    def make_widget(visitor: Visitor) -> None:
        """A write that forgot the Writer dependency."""

    pages = page_router()
    pages.include_router(area)
    app = FastAPI()
    app.include_router(pages, prefix=PREFIX)
    found = {r.label: r for r in guarded(app)}
    assert set(found) == {"GET /portal/widgets/{widget_id}", "POST /portal/widgets"}
    assert not found["POST /portal/widgets"].writer
    side = Side(1, 1, 1, 1, 1, 1, 1, "pay", "plan", 1)
    with pytest.raises(AssertionError, match="'widget_id' is in no table"):
        request_for(found["GET /portal/widgets/{widget_id}"], side, Objects(side, side, 1))


def test_the_parser_sees_write_controls_and_unnamed_things() -> None:
    """The checks above are only as good as the parser: it finds what they look for."""
    page = parse(
        '<html><body><h1>a</h1><h1>b</h1><form method="POST" action="/x">'
        '<input name="a"><label>Wrapped <input name="b"></label>'
        '<label for="c">C</label><input id="c" name="c"><input type="hidden" name="h">'
        '</form><button hx-delete="/y">x</button><table><tr><td>1</td></tr></table>'
        '<table aria-label="t"></table><img src="i.png"><svg role="img"><title>ok</title>'
        "</svg><svg></svg></body></html>"
    )
    assert page.lang is None
    assert page.h1 == 2
    assert page.post_forms == ["/x"]
    assert page.htmx_writes == ["<button hx-delete='/y'>"]
    assert page.unlabelled == ["<input name='a'>"]
    assert page.tables_unnamed == 1
    assert page.images_unnamed == ["<img src='i.png'>", "<svg>"]
