"""What each context's services need from storage: one module of repository protocols
per bounded context (``ports/charging.py`` for ``services/charging`` …).

They import only the domain, so every context may depend on them without a cycle;
``voxbill.storage`` implements them and :mod:`voxbill.services.unit_of_work` hands
them out, one set per transaction."""
