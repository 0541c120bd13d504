"""The services a command works with, built when a command runs: ``voxbill --help`` and
a usage error need none of them, and loading them (SQLAlchemy, every service) is most of
a ``voxbill`` start."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voxbill.bootstrap import Container


def build(*, migrate: bool = False) -> Container:
    """:func:`voxbill.bootstrap.build` with the settings of the environment."""
    from voxbill import bootstrap

    return bootstrap.build(migrate=migrate)


def schema_revision(container: Container) -> str | None:
    """:func:`voxbill.bootstrap.schema_revision`."""
    from voxbill import bootstrap

    return bootstrap.schema_revision(container)
