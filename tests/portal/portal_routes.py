"""Every portal route of the app, with its parameters filled from tables keyed by name,
for the guarantee tests (``test_portal_guarantees.py``, docs/portal.md "Guarantees and
how they are tested").

A route is read from ``app.routes``, so a page added by any area module is covered as
soon as it is registered; a parameter whose name none of the tables below knows makes the
coverage test fail with the name to add, so no route escapes the checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, get_args

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from portal_world import Objects, Side
from pydantic import BaseModel

from voxbill.portal.web import PREFIX, Visitor, Writer

#: Routes outside the signed-in guarantees on purpose: signing in and out (the sign-in
#: form has its own double-submit CSRF, tested in test_portal_pages.py) and the password
#: reset by emailed link (test_portal_reset.py). A public route (no session) not listed
#: here fails ``test_every_portal_route_is_covered``.
PUBLIC = {
    ("GET", "/portal/login"),
    ("POST", "/portal/login"),
    ("POST", "/portal/logout"),
    ("GET", "/portal/forgot"),
    ("POST", "/portal/forgot"),
    ("GET", "/portal/reset/{token}"),
    ("POST", "/portal/reset/{token}"),
}

#: GET pages that are only a write form: a support user may get 403 there (where its
#: account's writer gets 200) instead of a read-only page.
WRITE_FORM_PAGES: set[str] = set()

#: Writes a visitor makes on its own sign-in, not on an account (its own password, say):
#: a support user may make them too, so they are left out of the support 403 check only
#: (CSRF and tenancy still hold).
SELF_SERVICE_WRITES: set[tuple[str, str]] = set()

#: Parameters naming an object of a subtree (or the operator's own): filled with the
#: object of the side under test. Add a new parameter's name here.
OBJECTS: dict[str, Callable[[Side, Objects], str]] = {
    "account_id": lambda side, _: str(side.account),
    "to_account_id": lambda side, _: str(side.account),
    "owner_id": lambda side, _: str(side.account),
    "user_id": lambda side, _: str(side.user),
    "key_id": lambda side, _: str(side.key),
    "identifier_id": lambda side, _: str(side.identifier),
    "batch_id": lambda side, _: str(side.batch),
    "subscription_id": lambda side, _: str(side.subscription),
    "notification_id": lambda side, _: str(side.notification),
    "payment_id": lambda side, _: side.payment,
    "name": lambda side, _: side.plan,
    "plan": lambda side, _: side.plan,
    "rate_plan": lambda side, _: side.plan,
    "vendor_id": lambda _, objects: str(objects.vendor),
    "from_plan": lambda side, _: side.plan,  # a new plan copied from a plan
    "partner_id": lambda side, _: str(side.account),  # a vendor's partner account
}

#: Routes whose ``account_id`` is a reseller's (the side's reseller, not its customer):
#: what is set on operator and reseller accounts only.
RESELLER_ROUTES = ("/portal/accounts/{account_id}/templates",)

#: Writes that name a plan to create or fill: another subtree's plan name is ``409
#: plan_name_taken`` there (the API's rule: plan names are the operator's, and whose
#: it is is not said), not 404; nothing changes either way.
NAME_TAKEN_WRITES = {("POST", "/portal/rates/preview"), ("POST", "/portal/rates/publish")}

#: Parameters naming nothing of a subtree: the same value whoever asks.
NEUTRAL: dict[str, str] = {
    "prefix": "44",
    "event_type": "topup.received",
    "channel": "email",
    "session_id": "no-such-call",
    "currency": "EUR",
    "base": "USD",
    "quote": "EUR",
    "token": "no-such-token",
}

#: Form fields (looked up before ``OBJECTS``: a form's ``name`` is an account's name):
#: values a form would plausibly carry, so that a refusal comes from the rules, not from
#: a missing field.
FORM_VALUES: dict[str, str] = {
    "amount": "5",
    "face_value": "5",
    "count": "1",
    "note": "guarantee",
    "reason": "guarantee",
    "status": "blocked",
    "name": "Guarantee",
    "kind": "customer",
    "email": "guarantee@example.com",
    "role": "customer",
    "password": "guarantee password",
    "new_password": "guarantee password",
    "current_password": "guarantee password",
    "confirm": "guarantee password",
    "label": "guarantee",
    "description": "guarantee",
    "number": "+442079460000",
    "target": "guarantee@example.com",
    "events": "topup.received",
    "type": "sip_user",
    "value": "guarantee",
    "pin": "1234",
    "rate": "0.5",
    "timezone": "UTC",
    "below": "5",
    "host": "192.0.2.1",
    "port": "5060",
    "transport": "udp",
    "prefixes": "44",
    "body": "guarantee",
    # a deck's publish: what its preview signed (a forged digest is refused)
    "deck": "prefix,rate,destination\n44,0.10,UK\n",
    "state": "guarantee",
    "digest": "guarantee",
}

#: A file field's upload (a rate deck is the likeliest).
UPLOAD = ("guarantee.csv", b"prefix,rate,destination\n44,0.10,UK\n", "text/csv")

#: Query values no page may answer with a 500: not a number, out of any id's range,
#: not a date, a NUL, a huge string.
GARBAGE = [
    "abc",
    "-1",
    "99999999999999999999",
    "2026-13-45",
    "1e400",
    "nul\x00",
    "x" * 5000,
]
#: Path values likewise (an int parameter refuses most with 422, but not a huge number).
PATH_GARBAGE = ["abc", "0", "-1", "99999999999999999999", "nul%00", "%25", "x" * 500]

_CALLS = {get_args(Visitor)[1].dependency, get_args(Writer)[1].dependency}
_WRITER = get_args(Writer)[1].dependency
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    path_params: tuple[str, ...]
    query: tuple[tuple[str, bool], ...]  # (alias, required)
    form: tuple[tuple[str, bool], ...]
    files: tuple[str, ...]
    signed_in: bool
    writer: bool
    label: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{self.method} {self.path}")

    @property
    def public(self) -> bool:
        return (self.method, self.path) in PUBLIC

    @property
    def names_objects(self) -> bool:
        """Whether the route names an object of a subtree: by path, by a query
        parameter naming it by id (``account_id``: a filter; a plan picked by name on a
        page says "not found" on the page), or by a form field."""
        named = [*self.path_params, *(n for n, _ in self.query if n.endswith("_id"))]
        named += [n for n, _ in self.form if n not in FORM_VALUES]  # a form's name: a name
        return any(n in OBJECTS for n in named)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _form_fields(fields: list[Any]) -> Iterator[tuple[str, bool, bool]]:
    """(name, required, is_file) of each form field, a form model's fields expanded."""
    for found in fields:
        info = found.field_info
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, inner in annotation.model_fields.items():
                yield inner.alias or name, inner.is_required(), False
            continue
        yield found.alias, info.is_required(), isinstance(info, params.File)


def _app_routes(app: Any) -> Iterator[tuple[str, set[str], Dependant]]:
    """(path, methods, dependant) of every API route of ``app``, however nested: FastAPI
    0.16x includes a router lazily (``iter_route_contexts`` walks it), older ones copy
    its routes into ``app.routes``."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - an older FastAPI
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path, set(route.methods or ()), route.dependant
        return
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield str(context.path), set(context.methods or ()), context.dependant


def portal_routes(app: Any) -> list[Route]:
    """Every route under /portal of ``app`` (static files are a mount, not a route)."""
    found = []
    for path, methods, dependant in _app_routes(app):
        if not path.startswith(PREFIX):
            continue
        dependants = list(_dependants(dependant))
        calls = {d.call for d in dependants}
        query = tuple(
            (q.alias, q.field_info.is_required()) for d in dependants for q in d.query_params
        )
        body = [b for d in dependants for b in d.body_params]
        fields = list(_form_fields(body))
        for method in sorted(methods):
            if method == "HEAD":
                continue
            found.append(
                Route(
                    method=method,
                    path=path,
                    path_params=tuple(_PARAM.findall(path)),
                    query=query,
                    form=tuple((n, r) for n, r, f in fields if not f),
                    files=tuple(n for n, _, f in fields if f),
                    signed_in=bool(calls & _CALLS),
                    writer=_WRITER in calls,
                )
            )
    return sorted(found, key=lambda r: (r.path, r.method))


def guarded(app: Any) -> list[Route]:
    """The routes the guarantees hold for: signed in, not public."""
    return [r for r in portal_routes(app) if not r.public and r.signed_in]


def value_of(name: str, side: Side, objects: Objects, *, form: bool = False) -> str:
    if form and name in FORM_VALUES:
        return FORM_VALUES[name]
    if name in OBJECTS:
        return OBJECTS[name](side, objects)
    if name in NEUTRAL:
        return NEUTRAL[name]
    if not form and name in FORM_VALUES:
        return FORM_VALUES[name]
    raise AssertionError(
        f"portal route parameter {name!r} is in no table of tests/portal/portal_routes.py: "
        "add it to OBJECTS (an object of a subtree: give portal_world.Side one of each side) "
        "or NEUTRAL / FORM_VALUES (a plain value), so that the tenancy, support, CSRF and "
        "no-500 guarantees cover the route"
    )


def url_of(route: Route, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values[m.group(1)], route.path)


@dataclass(frozen=True)
class Request:
    """One request to a route: its URL, query and form, aimed at one side's objects."""

    url: str
    query: dict[str, str]
    data: dict[str, str]
    files: dict[str, tuple[str, bytes, str]]


def request_for(route: Route, side: Side, objects: Objects) -> Request:
    """The route aimed at ``side``: path parameters, required query parameters and any
    that name an object, required form fields and any that name an object."""
    path = {n: value_of(n, side, objects) for n in route.path_params}
    if route.path.startswith(RESELLER_ROUTES):
        path["account_id"] = str(side.reseller)
    query = {
        n: value_of(n, side, objects) for n, required in route.query if required or n in OBJECTS
    }
    data = {
        n: value_of(n, side, objects, form=True)
        for n, required in route.form
        if required or (n in OBJECTS and n not in FORM_VALUES)
    }
    data.pop("csrf_token", None)
    files = dict.fromkeys(route.files, UPLOAD)
    return Request(url_of(route, path), query, data, files)


class Page(HTMLParser):
    """What the guarantees read from a page: write controls, and accessibility facts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.h1 = 0
        self.post_forms: list[str] = []  # their actions
        self.htmx_writes: list[str] = []
        self.label_for: set[str] = set()
        self.unlabelled: list[str] = []
        self.tables_unnamed = 0
        self.images_unnamed: list[str] = []
        self._controls: list[tuple[str, str | None]] = []
        self._labels = 0
        self._tables: list[list[bool]] = []
        self._svgs: list[list[bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        named = "aria-label" in a or "aria-labelledby" in a
        if tag == "html":
            self.lang = a.get("lang") or None
        elif tag == "h1":
            self.h1 += 1
        elif tag == "form" and a.get("method", "get").lower() == "post":
            self.post_forms.append(a.get("action", ""))
        elif tag == "label":
            self._labels += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea"):
            kind = a.get("type", "text").lower()
            shown = kind not in ("hidden", "submit", "button", "reset", "image")
            if shown and not named and self._labels == 0:  # a wrapping label names it
                self._controls.append((f"<{tag} name={a.get('name')!r}>", a.get("id")))
        elif tag == "table":
            self._tables.append([named, False])
        elif tag == "caption" and self._tables:
            self._tables[-1][1] = True
        elif tag == "img" and "alt" not in a and not named and a.get("aria-hidden") != "true":
            self.images_unnamed.append(f"<img src={a.get('src')!r}>")
        elif tag == "svg":
            hidden = a.get("aria-hidden") == "true"
            self._svgs.append([named or hidden, a.get("role") == "img"])
        elif tag == "title" and self._svgs and self._svgs[-1][1]:
            self._svgs[-1][0] = True
        for verb in ("hx-post", "hx-put", "hx-patch", "hx-delete", "data-hx-post"):
            if verb in a:
                self.htmx_writes.append(f"<{tag} {verb}={a[verb]!r}>")
        if a.get("formmethod", "").lower() == "post":
            self.htmx_writes.append(f"<{tag} formmethod=post>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._labels = max(0, self._labels - 1)
        elif tag == "table" and self._tables:
            named, captioned = self._tables.pop()
            if not (named or captioned):
                self.tables_unnamed += 1
        elif tag == "svg" and self._svgs:
            named, _ = self._svgs.pop()
            if not named:
                self.images_unnamed.append("<svg>")

    def close(self) -> None:
        super().close()
        self.unlabelled = [
            what for what, ident in self._controls if not ident or ident not in self.label_for
        ]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page
