"""The application ``voxbill serve`` runs: the API (:mod:`voxbill.api.app`) with the
portal's pages under ``/portal/`` (``/`` redirects there) and its static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from voxbill.api.app import create_app as create_api_app
from voxbill.bootstrap import Container
from voxbill.portal import pages
from voxbill.portal.web import PREFIX

STATIC = Path(__file__).parent / "static"


def create_app(container: Container) -> FastAPI:
    app = create_api_app(container, extra_public=frozenset({"/"}), open_prefixes=(PREFIX,))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=302)

    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="portal-static")
    app.include_router(pages.router, prefix=PREFIX)
    return app
