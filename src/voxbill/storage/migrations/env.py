"""Alembic environment: the connection comes from ``voxbill.storage.migrate``."""

from alembic import context

from voxbill.storage.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through migrate.upgrade
    raise RuntimeError("run migrations through 'voxbill db upgrade'")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
