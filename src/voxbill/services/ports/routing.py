"""Vendors' SIP targets, funds and callers' chains, as the routing service sees storage.

Protocols only: ``voxbill.storage`` implements them and ``bootstrap`` wires them
(through the unit of work, :mod:`voxbill.services.unit_of_work`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from voxbill.domain.accounts import Account
from voxbill.domain.routing import SipTarget, Vendor


class RouteRepository(Protocol):
    def target(self, account_id: int) -> SipTarget | None: ...
    def save_target(self, account_id: int, found: SipTarget, now: datetime) -> None: ...
    def delete_target(self, account_id: int) -> bool: ...
    def chain(self, account_id: int) -> list[Account]: ...
    def vendors(self, operator_id: int) -> list[Vendor]: ...
    def vendor_page(
        self, operator_id: int, *, after_id: int | None, limit: int
    ) -> list[tuple[Account, SipTarget | None, Decimal]]:
        """The operator's vendor accounts by id, with their SIP target (None: none) and
        their ledger balance."""
        ...
