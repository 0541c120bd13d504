"""The destinations an operator marks high risk (docs/charging.md, "Fraud guard"): read
by its staff (admin and support keys) and its resellers, changed by its admin keys. A
change is seen by this node's calls at once, by other nodes' within
``hot_cache_seconds`` (the guard's cache of the list)."""

from __future__ import annotations

from collections.abc import Sequence

from voxbill.domain import access
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import Forbidden, NotFound
from voxbill.domain.fraud import check_prefix
from voxbill.services.charging.fraud import FraudGuard
from voxbill.services.ports.fraud import HighRiskPrefix
from voxbill.services.unit_of_work import UnitOfWork

READERS = frozenset({Role.ADMIN, Role.SUPPORT, Role.RESELLER})


def check_read(principal: Principal) -> None:
    if principal.role not in READERS:
        raise Forbidden(f"a {principal.role} key does not read the high-risk destinations")


def check_change(principal: Principal) -> None:
    access.require_write(principal)
    if principal.role is not Role.ADMIN:
        raise Forbidden("high-risk destinations are set by the operator (an admin key)")


class HighRiskDestinations:
    def __init__(self, uow: UnitOfWork, guard: FraudGuard) -> None:
        self._uow = uow
        self._guard = guard

    def listed(self, principal: Principal) -> list[HighRiskPrefix]:
        check_read(principal)
        return self.of_operator(principal.operator_id)

    def page(
        self, principal: Principal, *, after_id: int | None, limit: int
    ) -> list[HighRiskPrefix]:
        """One page of the operator's high-risk prefixes by id (the portal's list)."""
        check_read(principal)
        with self._uow.transaction(readonly=True) as tx:
            return tx.fraud.high_risk_page(principal.operator_id, after_id=after_id, limit=limit)

    def of_operator(self, operator_id: int) -> list[HighRiskPrefix]:
        with self._uow.transaction(readonly=True) as tx:
            return tx.fraud.high_risk_prefixes(operator_id)

    def add(
        self, principal: Principal, prefixes: Sequence[tuple[str, str | None]]
    ) -> list[HighRiskPrefix]:
        """Mark prefixes high risk; those listed already are left as they are. The ones
        added."""
        check_change(principal)
        return self.add_to(principal.operator_id, prefixes)

    def add_to(
        self, operator_id: int, prefixes: Sequence[tuple[str, str | None]]
    ) -> list[HighRiskPrefix]:
        checked = [(check_prefix(p), note) for p, note in prefixes]
        with self._uow.transaction() as tx:
            added = tx.fraud.add_high_risk_prefixes(operator_id, checked)
        self._guard.forget(operator_id)
        return added

    def remove(self, principal: Principal, prefix: str) -> None:
        check_change(principal)
        self.remove_from(principal.operator_id, prefix)

    def remove_from(self, operator_id: int, prefix: str) -> None:
        digits = check_prefix(prefix)
        with self._uow.transaction() as tx:
            removed = tx.fraud.remove_high_risk_prefix(operator_id, digits)
        self._guard.forget(operator_id)
        if not removed:
            raise NotFound(f"{digits} is not a high-risk prefix")
