"""accounts: drop the settings stored and never used (``did_plan``, ``contacts``)

Revision ID: 0015
Revises: 0014

``did_plan`` named a rate plan that nothing rated by, and ``contacts`` a JSON object
that nothing read. Both were accepted by the API and stored, promising what voxbill did
not do: they leave the API and the table. What they stood for is planned another way
(CONTRACT.md): a number's inbound prices come with the number (the DID import's
``inbound_rate``), whom to tell about an account is a notification subscription (each
with its own channel and target). ``tax_profile`` stays: CONTRACT.md names it (the tax
profile an account's invoices apply).

Downgrade restores both columns empty (``did_plan`` NULL, ``contacts`` ``{}``); what
they held is gone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("contacts")
        batch_op.drop_column("did_plan")


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("did_plan", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("contacts", sa.Text(), server_default="{}", nullable=False))
