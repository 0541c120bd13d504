"""The web portal: server-rendered pages (Jinja2, htmx) over the same services as the API.

A door like :mod:`voxbill.api`: a signed-in visitor is a
:class:`~voxbill.domain.access.Principal` of its account and role, so every tenancy and
permission rule of the API applies unchanged (``docs/portal.md``)."""
