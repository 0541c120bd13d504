"""Adapters to the database: schema, migrations, repositories, transactions.

One package per bounded context (``accounts``, ``access``, ``charging``, ``ledger``,
``rating``, ``routing``, ``messaging``) implements that context's repository protocols
(:mod:`voxbill.services.ports`) as ``Sql…Repository`` classes bound to one transaction's
connection; :class:`~voxbill.storage.unit_of_work.SqlUnitOfWork` hands them out and
``bootstrap`` wires it. Inside a package, the SQL is often written as module functions
over a connection (prepared statements, data-modifying CTEs, bulk paths) so that other
storage modules can compose them in one statement or one round trip — e.g. a session
read with its holds — and the repository class binds them to its transaction. Rows
never leave this package: every repository method returns domain objects.
"""
