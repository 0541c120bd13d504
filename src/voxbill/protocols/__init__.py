"""The switch-facing doors (SIP, RADIUS, Diameter): wire message <-> charging service.

Each door translates a wire message into a call on ``ChargingService`` and its answer
back; none touches tables. Refusals map to each protocol's status in one table
(:mod:`voxbill.outcomes`).
"""
