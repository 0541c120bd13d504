"""The SIP door's use case: an INVITE becomes a charging session and a 302 with routes.

The session records the first (cheapest) route's vendor: a redirect server never learns
which route the switch finally used, so the CDR's buy leg is the first choice.

Blocking (it reads and writes the database): the server runs it in a thread pool. It
never raises: every outcome is an :class:`Answer` (status, phrase, headers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from voxbill.domain.errors import InvalidInput, VoxbillError
from voxbill.domain.routing import q_values
from voxbill.protocols.refusals import refusal_for
from voxbill.protocols.sip.message import SipRequest
from voxbill.services.charging import CallerId, ChargingRefused, ChargingService
from voxbill.services.routing import RoutingService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    phrase: str
    headers: tuple[tuple[str, str], ...] = ()


def refusal(reason: str | None) -> Answer:
    """The refusal of CONTRACT.md for a reason code, with ``X-Voxbill-Reason``."""
    found = refusal_for(reason)
    return Answer(found.sip_status, found.sip_phrase, (("X-Voxbill-Reason", found.reason),))


BAD_REQUEST = Answer(400, "Bad Request")


def _decimal(value: Decimal) -> str:
    return format(value.normalize() + 0, "f")


class RedirectDoor:
    """wire request → routing + charging → 302 routes or a refusal."""

    def __init__(
        self,
        charging: ChargingService,
        routing: RoutingService,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._charging = charging
        self._routing = routing
        self._clock = clock

    @staticmethod
    def caller_of(request: SipRequest, source_ip: str) -> CallerId:
        """Trunk by source IP; ANI from P-Asserted-Identity (else From); SIP user from From."""
        return CallerId(ani=request.caller, sip_user=request.from_user, ip=source_ip)

    def invite(self, request: SipRequest, source_ip: str) -> Answer:
        try:
            return self._invite(request, source_ip)
        except ChargingRefused as refused:
            return refusal(refused.code)
        except InvalidInput:
            return BAD_REQUEST
        except VoxbillError as error:  # e.g. database_busy: 503, the switch may retry
            log.warning("SIP INVITE %s failed: %s", request.call_id, error)
            return refusal(error.code)
        except Exception:
            log.exception("SIP INVITE %s failed", request.call_id)
            return refusal(None)

    def _invite(self, request: SipRequest, source_ip: str) -> Answer:
        callee = request.callee
        if not callee:
            return refusal("invalid_number")
        caller = self.caller_of(request, source_ip)
        now = self._clock()
        query = self._routing.for_caller(caller, callee, now)
        if query is None or not query.routes:
            decision = self._charging.authorize(caller, callee, now)
            return refusal(decision.reason if not decision.allowed else "no_route")
        grant = self._charging.start(
            request.call_id, caller, callee, now, interim=False, vendor_id=query.routes[0].vendor_id
        )
        number = self._charging_number(callee)
        headers = [
            ("Contact", f"<{route.contact(number)}>;q={q}")
            for route, q in zip(query.routes, q_values(len(query.routes)), strict=True)
        ]
        headers += [
            ("X-Voxbill-Account", str(grant.account_id)),
            ("X-Voxbill-Balance", _decimal(grant.balance)),
            ("X-Voxbill-Rate", _decimal(grant.rate)),
            ("X-Voxbill-Max-Duration", str(grant.max_duration)),
        ]
        return Answer(302, "Moved Temporarily", tuple(headers))

    def _charging_number(self, callee: str) -> str:
        return self._routing.normalize(callee)
