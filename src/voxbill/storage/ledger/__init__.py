"""The ledger's SQL: books, transactions and legs, idempotency keys and the outbox
(``books``), holds (``holds``), exchange rates (``fx``) and the sums ``ledger verify``
compares (``audit``), each behind its repository class (``Sql…Repository``, the
protocols of :mod:`voxbill.services.ports.ledger`) and returning domain records.

Prepared statements and, on PostgreSQL, data-modifying CTEs keep a money movement at one
round trip: a transaction with its legs, books and settled holds is one statement.
"""
