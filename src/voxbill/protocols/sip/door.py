"""The SIP door's use case: an INVITE becomes a charging session and a 302 with routes.

The session records the first (cheapest) route's vendor: a redirect server never learns
which route the switch finally used, so the CDR's buy leg is the first choice.

Every lookup is scoped to the operator of the peer that sent the request (the server
matched its source against ``VOXBILL_SIP_PEERS``): a switch of operator A never finds
operator B's callers nor B's sessions, whatever From says.

A ``BYE`` that carries ``X-Voxbill-Duration: SECONDS`` stops the session named by its
Call-ID at that duration (0: the call never connected): how a switch without HTTP
modules (the shipped Kamailio configuration) gives back the grant of a call that failed
at every vendor or was cancelled. Any other BYE is 481, as for any redirect server.

The 302 carries the billing headers (``docs/integrations/sip.md``): the caller's
``X-Voxbill-Account``, ``-Balance`` (before this call's hold), ``-Rate`` and
``-Max-Duration``, and one ``X-Voxbill-Level`` per paying level of the chain (user,
group, service provider: seed 000), caller first. A peer marked ``;authorize-only`` in
``VOXBILL_SIP_PEERS`` routes for itself: its INVITE is charged the same way (the session
and its holds start) and answered with a 302 to its own Request-URI, without routes — or,
when the INVITE carries ``X-Voxbill-Route`` headers (the switch's own route set, in its
order of preference), a 302 with those as the Contacts, with descending q-values.

Blocking (it reads and writes the database): the server runs it in a thread pool. It
never raises: every outcome is an :class:`Answer` (status, phrase, headers).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from voxbill.domain.errors import InvalidInput, VoxbillError
from voxbill.domain.routing import q_values
from voxbill.outcomes import refusal_for
from voxbill.protocols.log_safe import printable
from voxbill.protocols.session_scope import SessionScope
from voxbill.protocols.sip.message import SipRequest
from voxbill.services.charging.results import PayingLevel, SessionGrant
from voxbill.services.charging.service import CallerId, ChargingRefused, ChargingService
from voxbill.services.routing.service import RoutingService

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
STOPPED = Answer(200, "OK")
NO_SUCH_CALL = Answer(481, "Call/Transaction Does Not Exist")
#: The header of a BYE that stops a session (seconds, ASCII digits).
DURATION_HEADER = "x-voxbill-duration"
#: The headers of an authorize-only INVITE naming the switch's own route set.
ROUTE_HEADER = "x-voxbill-route"
#: The most routes of a switch's own route set (more: 400, nothing charged).
MOST_OWN_ROUTES = 16
_ROUTE_URI = re.compile(r"(?:sips?|tel):[!-~]{1,250}")


def own_routes(request: SipRequest) -> list[str] | None:
    """The switch's own route set from ``X-Voxbill-Route`` (one URI per header, or a
    comma-separated list; ``<…>`` optional), in order; None when it sent none. Raises
    InvalidInput (400, before anything is charged) for a value that is not a sip:, sips:
    or tel: URI of printable ASCII, or for more than :data:`MOST_OWN_ROUTES` routes."""
    values = request.values(ROUTE_HEADER)
    if not values:
        return None
    routes: list[str] = []
    for value in values:
        for item in value.split(","):
            text = item.strip()
            if text.startswith("<") and text.endswith(">"):
                text = text[1:-1]
            if not _ROUTE_URI.fullmatch(text) or any(c in text for c in '<>,"\\'):
                raise InvalidInput("X-Voxbill-Route must name sip:, sips: or tel: URIs")
            routes.append(text)
    if len(routes) > MOST_OWN_ROUTES:
        raise InvalidInput(f"at most {MOST_OWN_ROUTES} X-Voxbill-Route entries")
    return routes


def _decimal(value: Decimal) -> str:
    return format(value.normalize() + 0, "f")


def level_header(level: PayingLevel) -> tuple[str, str]:
    """``X-Voxbill-Level: 1;account=12;kind=customer;balance=9.5;currency=USD;
    balance-account=12``: one paying level, its balance before this call's hold."""
    return (
        "X-Voxbill-Level",
        f"{level.level};account={level.account_id};kind={level.kind};"
        f"balance={_decimal(level.balance)};currency={level.currency};"
        f"balance-account={level.balance_account_id}",
    )


def billing_headers(grant: SessionGrant) -> list[tuple[str, str]]:
    """The caller's four headers, then one ``X-Voxbill-Level`` per paying level."""
    headers = [
        ("X-Voxbill-Account", str(grant.account_id)),
        ("X-Voxbill-Balance", _decimal(grant.balance)),
        ("X-Voxbill-Rate", _decimal(grant.rate)),
        ("X-Voxbill-Max-Duration", str(grant.max_duration)),
    ]
    headers += [level_header(level) for level in grant.levels]
    return headers


class RedirectDoor:
    """wire request → routing + charging → 302 routes or a refusal."""

    def __init__(
        self,
        charging: ChargingService,
        routing: RoutingService,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        scope: SessionScope | None = None,
    ) -> None:
        """``scope`` checks that a session a BYE stops belongs to the peer's operator
        (the RADIUS and Diameter doors' check); without it, BYEs are never honoured
        (481)."""
        self._charging = charging
        self._routing = routing
        self._clock = clock
        self._scope = scope

    @staticmethod
    def caller_of(request: SipRequest, source_ip: str, operator_id: int | None = None) -> CallerId:
        """Trunk by source IP; ANI from P-Asserted-Identity (else From); SIP user from
        From; looked up among ``operator_id``'s identifiers (the peer's operator)."""
        return CallerId(
            ani=request.caller, sip_user=request.from_user, ip=source_ip, operator_id=operator_id
        )

    def invite(
        self,
        request: SipRequest,
        source_ip: str,
        operator_id: int | None = None,
        *,
        authorize_only: bool = False,
    ) -> Answer:
        """The answer to an INVITE; ``authorize_only``: the peer routes for itself (a
        302 to the Request-URI with the billing headers, no vendor needed)."""
        try:
            if authorize_only:
                return self._authorize_only(request, source_ip, operator_id)
            return self._invite(request, source_ip, operator_id)
        except ChargingRefused as refused:
            return refusal(refused.code)
        except InvalidInput:
            return BAD_REQUEST
        except VoxbillError as error:  # e.g. database_busy: 503, the switch may retry
            log.warning("SIP INVITE %s failed: %s", printable(request.call_id), error)
            return refusal(error.code)
        except Exception:
            log.exception("SIP INVITE %s failed", printable(request.call_id))
            return refusal(None)

    def bye(self, request: SipRequest, operator_id: int | None) -> Answer:
        """Stop the session of the Call-ID at ``X-Voxbill-Duration`` seconds; 481 for a
        BYE without it, or for a session unknown or of another operator (alike)."""
        duration = request.first(DURATION_HEADER)
        if duration is None or self._scope is None or operator_id is None:
            return NO_SUCH_CALL
        if not (duration.isascii() and duration.isdigit() and len(duration) <= 9):
            return BAD_REQUEST
        try:
            if not self._scope.allows(request.call_id, operator_id):
                return NO_SUCH_CALL
            self._charging.stop(request.call_id, int(duration))
            return STOPPED
        except InvalidInput:
            return BAD_REQUEST
        except VoxbillError as error:  # unknown_session: 481; database_busy: 503
            return refusal(error.code)
        except Exception:
            log.exception("SIP BYE %s failed", printable(request.call_id))
            return refusal(None)

    def _invite(self, request: SipRequest, source_ip: str, operator_id: int | None) -> Answer:
        callee = request.callee
        if not callee:
            return refusal("invalid_number")
        caller = self.caller_of(request, source_ip, operator_id)
        now = self._clock()
        query = self._routing.for_caller(caller, callee, now)
        if query is None or not query.routes:
            decision = self._charging.authorize(caller, callee, now)
            return refusal(decision.reason if not decision.allowed else "no_route")
        grant = self._charging.start(
            request.call_id, caller, callee, now, interim=False, vendor_id=query.routes[0].vendor_id
        )
        if self._scope is not None:
            self._scope.remember(request.call_id, operator_id)
        number = self._charging_number(callee)
        headers = [
            ("Contact", f"<{route.contact(number)}>;q={q}")
            for route, q in zip(query.routes, q_values(len(query.routes)), strict=True)
        ]
        headers += billing_headers(grant)
        return Answer(302, "Moved Temporarily", tuple(headers))

    def _authorize_only(
        self, request: SipRequest, source_ip: str, operator_id: int | None
    ) -> Answer:
        """Charge as :meth:`_invite` does (the session starts, its holds are placed), with
        no vendor; the 302's Contacts are the switch's own route set, else the request's
        own URI: the switch routes."""
        callee = request.callee
        if not callee:
            return refusal("invalid_number")
        routes = own_routes(request)
        caller = self.caller_of(request, source_ip, operator_id)
        grant = self._charging.start(request.call_id, caller, callee, self._clock(), interim=False)
        if self._scope is not None:
            self._scope.remember(request.call_id, operator_id)
        if routes is None:
            contacts = [("Contact", f"<{request.uri}>")]
        else:
            contacts = [
                ("Contact", f"<{uri}>;q={q}")
                for uri, q in zip(routes, q_values(len(routes)), strict=True)
            ]
        headers = [*contacts, *billing_headers(grant)]
        return Answer(302, "Moved Temporarily", tuple(headers))

    def _charging_number(self, callee: str) -> str:
        return self._routing.normalize(callee)
