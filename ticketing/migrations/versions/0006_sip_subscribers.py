"""SIP accounts (digest HA1) that Kamailio's auth_db reads, and why a recording failed.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sip_subscribers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("domain", sa.String(64), nullable=False, server_default=""),
        sa.Column("ha1", sa.String(64), nullable=False),
        sa.Column("ha1b", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False, server_default="ivr"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("write_error", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("write_error")
    op.drop_table("sip_subscribers")
