"""Kamailio's registrations (usrloc ``location`` table, Kamailio 5.6 schema, version 9), written
through by Kamailio (db_mode 1) and read by ticketing/sip_registrations.py (issue 13: presence).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "location",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ruid", sa.String(64), nullable=False, server_default=""),
        sa.Column("username", sa.String(64), nullable=False, server_default=""),
        sa.Column("domain", sa.String(64), nullable=True),
        sa.Column("contact", sa.String(512), nullable=False, server_default=""),
        sa.Column("received", sa.String(128), nullable=True),
        sa.Column("path", sa.String(512), nullable=True),
        sa.Column("expires", sa.DateTime(), nullable=False, server_default="2030-05-28 21:32:15"),
        sa.Column("q", sa.Float(), nullable=False, server_default="1.0"),
        sa.Column("callid", sa.String(255), nullable=False, server_default="Default-Call-ID"),
        sa.Column("cseq", sa.Integer(), nullable=False, server_default="1"),
        sa.Column(
            "last_modified", sa.DateTime(), nullable=False, server_default="2000-01-01 00:00:01"
        ),
        sa.Column("flags", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cflags", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("user_agent", sa.String(255), nullable=False, server_default=""),
        sa.Column("socket", sa.String(64), nullable=True),
        sa.Column("methods", sa.Integer(), nullable=True),
        sa.Column("instance", sa.String(255), nullable=True),
        sa.Column("reg_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("server_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("connection_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("keepalive", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("partition", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("ruid", name="location_ruid_idx"),
    )
    op.create_index("location_account_contact_idx", "location", ["username", "domain", "contact"])
    op.create_index("location_expires_idx", "location", ["expires"])
    op.create_index("location_tcpcon_idx", "location", ["connection_id"])
    op.create_index("location_connection_idx", "location", ["server_id", "connection_id"])


def downgrade() -> None:
    for name in (
        "location_connection_idx",
        "location_tcpcon_idx",
        "location_expires_idx",
        "location_account_contact_idx",
    ):
        op.drop_index(name, "location")
    op.drop_table("location")
