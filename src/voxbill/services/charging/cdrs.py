"""The CDR values the doors answer with (:mod:`voxbill.domain.cdrs`), where the doors
import them from; reading them is :meth:`ChargingService.cdrs
<voxbill.services.charging.queries.ChargingQueries.cdrs>`."""

from voxbill.domain.cdrs import Cdr, CdrLeg

__all__ = ["Cdr", "CdrLeg"]
