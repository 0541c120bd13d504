"""Access-Request → authorize → Access-Accept / Access-Reject.

Authorization only: nothing is reserved until the accounting Start opens the session.
The caller is looked up among the identifiers of the client's operator only.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from pyrad.packet import AccessAccept, AccessReject, StatusServer

from voxbill.domain.errors import VoxbillError
from voxbill.outcomes import refusal_for
from voxbill.protocols.log_safe import printable
from voxbill.protocols.radius import card_class
from voxbill.protocols.radius.attributes import (
    Attributes,
    accept_attributes,
    access_query,
    reject_attributes,
)
from voxbill.protocols.radius.clients import RadiusClient
from voxbill.protocols.radius.codec import Request
from voxbill.protocols.radius.port import Charging

log = logging.getLogger(__name__)


class AccessHandler:
    def __init__(self, charging: Charging) -> None:
        self._charging = charging

    def answer(
        self, request: Request, client: RadiusClient, *, source: str | None = None
    ) -> tuple[int, Attributes]:
        """The reply code and attributes; a failure inside voxbill is an Access-Reject
        with the internal reason (h323-return-code 8), so the gateway is never left
        waiting on a request that cannot succeed. ``source``: the NAS's address, whose
        card PIN guesses are counted (``nas:<address>``)."""
        if request.packet.code == StatusServer:
            return AccessAccept, [("Reply-Message", "voxbill")]
        query = access_query(request.packet, request.password, client.operator_id)
        asking = query.caller
        if asking.card and source is not None:
            asking = replace(asking, asker=f"nas:{source}")
        try:
            answer = self._charging.authorize(asking, query.callee)
        except VoxbillError as exc:
            log.warning("RADIUS authorize failed: %s (%s)", printable(str(exc)), exc.code)
            return AccessReject, reject_attributes(refusal_for(exc.code))
        except Exception:
            log.exception("RADIUS authorize failed")
            return AccessReject, reject_attributes(refusal_for(None))
        if not answer.allowed:
            return AccessReject, reject_attributes(refusal_for(answer.reason))
        attributes = accept_attributes(answer)
        caller = query.caller
        if caller.card and caller.pin:
            sealed = card_class.seal(caller.card, caller.pin, client.secret)
            if sealed is not None:
                attributes.append(("Class", sealed))
        return AccessAccept, attributes
