"""Charging's SQL: call sessions and open-call counters
(:class:`~voxbill.storage.charging.sessions.SqlSessionRepository`) and CDRs with their legs
(:class:`~voxbill.storage.charging.cdrs.SqlCdrRepository`), on a transaction's connection."""
