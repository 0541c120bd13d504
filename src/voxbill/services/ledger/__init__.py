"""The double-entry ledger: the only way a balance changes, and how balances are read.

:class:`~voxbill.services.ledger.service.LedgerService` is the door for the other
contexts and the API: money movements (``movements``), holds (``holds_service``),
balances, history, exchange rates (``fx``) and ``ledger verify`` (``verify``). Each use
case is one unit of work (``transactions``) in which a
:class:`~voxbill.services.ledger.journal.Journal` locks the balances, checks their floors
and appends balanced postings; the rules that run inside a journal are ``postings``,
``charges``, ``holds_open`` and ``holds_close`` (which charging also runs inside its own
units of work, several at once through ``batch``). Storage is reached only through the
repositories of :mod:`voxbill.services.ports.ledger`; the values are in
:mod:`voxbill.domain.ledger`, :mod:`voxbill.domain.holds` and :mod:`voxbill.domain.fx`.
"""
