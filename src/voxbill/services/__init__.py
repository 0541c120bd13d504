"""Use cases, one package per bounded context — ``accounts``, ``access``, ``rating``,
``routing``, ``ledger``, ``charging``, ``messaging`` — each owning its transactions
through the unit of work (:mod:`voxbill.services.unit_of_work`) and reaching storage
only through the repository protocols of :mod:`voxbill.services.ports`. The map is
``docs/architecture.md``."""
