"""Real-time charging of calls: authorize, start (hold the grant at every level of the
caller's chain), update (extend), stop (rate, charge, write the CDR) and sweep abandoned
sessions; reads of sessions and CDRs. :class:`~voxbill.services.charging.service.ChargingService`
is the surface every door drives; storage is reached through the unit of work
(``tx.sessions``, ``tx.cdrs``, see :mod:`~voxbill.services.ports.charging`) and the
ledger's :class:`~voxbill.services.ledger.journal.Journal`."""
