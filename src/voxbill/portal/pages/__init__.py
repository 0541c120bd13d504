"""The portal's pages, one module per area, each with its own router.

Every page acts as the visitor's principal through the same services and rules as the
API: what is outside its subtree is a 404, what its role may not write is a 403, and a
write control is rendered only when the rule that guards its route would let it pass.
A new area adds its module to ``AREAS``."""

from __future__ import annotations

from fastapi import APIRouter

from voxbill.portal.pages import (
    accounts,
    cards,
    cdrs,
    dashboard,
    fraud,
    fx,
    home,
    keys,
    notifications,
    payments,
    rates,
    reset,
    settings,
    signin,
    vendors,
)
from voxbill.portal.pages.common import page_router

AREAS = (
    signin,
    home,
    accounts,
    rates,
    cdrs,
    settings,
    keys,
    cards,
    vendors,
    fx,
    fraud,
    dashboard,
    notifications,
    payments,
    reset,
)

router: APIRouter = page_router()
for _area in AREAS:
    router.include_router(_area.router)
